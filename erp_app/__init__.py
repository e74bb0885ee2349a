"""The ERP side: Business Central's tables that the synchronization reads and writes."""
