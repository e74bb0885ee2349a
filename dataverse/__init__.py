"""A plain Python client of the Dataverse Web API (OData v4) on `requests`. No Django here."""
