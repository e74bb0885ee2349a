"""The OData query options the embedded CRM understands: $filter, $select, $orderby, $top,
$count and paging (`Prefer: odata.maxpagesize`, `$skiptoken`)."""
