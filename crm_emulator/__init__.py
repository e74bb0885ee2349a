"""The embedded CRM: a Dataverse-compatible Web API served by this project (its own database)."""
