"""Option values of the ERP tables, with Business Central's captions."""

from django.db import models


class Blocked(models.TextChoices):
    NONE = "", "No"
    SHIP = "ship", "Ship"
    INVOICE = "invoice", "Invoice"
    ALL = "all", "All"


class VendorBlocked(models.TextChoices):
    NONE = "", "No"
    PAYMENT = "payment", "Payment"
    ALL = "all", "All"


class ContactType(models.TextChoices):
    COMPANY = "company", "Company"
    PERSON = "person", "Person"


class InvoiceLineType(models.TextChoices):
    ITEM = "item", "Item"
    RESOURCE = "resource", "Resource"
    GL_ACCOUNT = "gl_account", "G/L Account"
