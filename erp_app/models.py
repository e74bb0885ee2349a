"""Business Central's tables that the seeds synchronize, with BC's field names in snake_case.

Every table has `system_id` (BC's SystemId) and an indexed `modified_at` that moves on every
change, including `QuerySet.update()` and `bulk_update()`: the sync engine finds changed records
by it.
"""

import uuid
from decimal import Decimal

from django.db import models
from django.urls import reverse
from django.utils import timezone

from erp_app.choices import Blocked, ContactType, InvoiceLineType, VendorBlocked

ZERO = Decimal("0")


def optional(to, verbose_name, on_delete=models.PROTECT, **options):
    """A reference BC leaves empty until someone fills it in: null, blank, PROTECT unless said."""
    return models.ForeignKey(
        to, verbose_name=verbose_name, on_delete=on_delete, null=True, blank=True, **options
    )


def money(verbose_name, **options):
    """An amount (BC's Decimal, 2 places), zero unless said."""
    options.setdefault("default", ZERO)
    return models.DecimalField(verbose_name, max_digits=18, decimal_places=2, **options)


def measure(verbose_name, **options):
    """A quantity, weight or volume (BC's Decimal, 5 places), zero unless said."""
    options.setdefault("default", ZERO)
    return models.DecimalField(verbose_name, max_digits=18, decimal_places=5, **options)


class ERPQuerySet(models.QuerySet):
    def update(self, **kwargs):
        kwargs.setdefault("modified_at", timezone.now())
        return super().update(**kwargs)

    def bulk_update(self, objs, fields, batch_size=None):
        now = timezone.now()
        objs = list(objs)
        for obj in objs:
            obj.modified_at = now
        return super().bulk_update(objs, {*fields, "modified_at"}, batch_size=batch_size)


class ERPRecord(models.Model):
    system_id = models.UUIDField("SystemId", default=uuid.uuid4, unique=True, editable=False)
    modified_at = models.DateTimeField(
        "Last Date Modified", default=timezone.now, db_index=True, editable=False
    )

    objects = ERPQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        self.modified_at = timezone.now()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "modified_at"}
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("erp:detail", kwargs={"model": self._meta.model_name, "pk": self.pk})


class CodeRecord(ERPRecord):
    """A setup table keyed by a short code, shown as "CODE Description"."""

    code = models.CharField("Code", max_length=10, unique=True)
    description = models.CharField("Description", max_length=100, blank=True)

    class Meta:
        abstract = True
        ordering = ["code"]

    def __str__(self):
        return self.code


class Salesperson(ERPRecord):
    code = models.CharField("Code", max_length=20, unique=True)
    name = models.CharField("Name", max_length=50, blank=True)
    email = models.EmailField("Email", max_length=80, blank=True)
    phone_no = models.CharField("Phone No.", max_length=30, blank=True)
    job_title = models.CharField("Job Title", max_length=30, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = "salesperson/purchaser"
        verbose_name_plural = "salespeople/purchasers"

    def __str__(self):
        return self.code


class Currency(ERPRecord):
    code = models.CharField(
        "Code", max_length=10, unique=True, help_text="The ISO 4217 code, e.g. EUR."
    )
    symbol = models.CharField("Symbol", max_length=10, blank=True)
    description = models.CharField("Description", max_length=30, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "currencies"

    def __str__(self):
        return self.code

    @property
    def has_iso_code(self) -> bool:
        """A standard ISO 4217 code is three letters; only those couple to CRM currencies."""
        return len(self.code) == 3 and self.code.isalpha() and self.code.isupper()


class UnitOfMeasure(CodeRecord):
    class Meta(CodeRecord.Meta):
        verbose_name = "unit of measure"
        verbose_name_plural = "units of measure"


class PaymentTerms(CodeRecord):
    due_date_calculation = models.CharField("Due Date Calculation", max_length=20, blank=True)

    class Meta(CodeRecord.Meta):
        verbose_name = "payment terms"
        verbose_name_plural = "payment terms"


class ShipmentMethod(CodeRecord):
    class Meta(CodeRecord.Meta):
        verbose_name = "shipment method"


class ShippingAgent(CodeRecord):
    internet_address = models.URLField("Internet Address", max_length=250, blank=True)

    class Meta(CodeRecord.Meta):
        verbose_name = "shipping agent"


class CustomerPriceGroup(CodeRecord):
    price_includes_vat = models.BooleanField("Price Includes VAT", default=False)
    allow_line_disc = models.BooleanField("Allow Line Disc.", default=True)

    class Meta(CodeRecord.Meta):
        verbose_name = "customer price group"


class Address(models.Model):
    """BC's address block, shared by customers, vendors and contacts."""

    address = models.CharField("Address", max_length=100, blank=True)
    address_2 = models.CharField("Address 2", max_length=50, blank=True)
    post_code = models.CharField("Post Code", max_length=20, blank=True)
    city = models.CharField("City", max_length=30, blank=True)
    county = models.CharField("County", max_length=30, blank=True)
    country_region_code = models.CharField("Country/Region Code", max_length=10, blank=True)
    phone_no = models.CharField("Phone No.", max_length=30, blank=True)
    email = models.EmailField("Email", max_length=80, blank=True)

    class Meta:
        abstract = True


class Contact(ERPRecord, Address):
    no = models.CharField("No.", max_length=20, unique=True)
    type = models.CharField(
        "Type", max_length=10, choices=ContactType.choices, default=ContactType.PERSON
    )
    company = optional(
        "self", "Company", related_name="people", limit_choices_to={"type": ContactType.COMPANY}
    )
    # BC's contact business relation: the customer a company contact stands for. The CONTACT
    # mapping translates a person's company through it to the CRM's parent account.
    customer = optional(
        "Customer",
        "Customer (business relation)",
        on_delete=models.SET_NULL,
        related_name="company_contacts",
    )
    name = models.CharField("Name", max_length=100, blank=True)
    first_name = models.CharField("First Name", max_length=30, blank=True)
    middle_name = models.CharField("Middle Name", max_length=30, blank=True)
    surname = models.CharField("Surname", max_length=30, blank=True)
    job_title = models.CharField("Job Title", max_length=30, blank=True)
    mobile_phone_no = models.CharField("Mobile Phone No.", max_length=30, blank=True)
    fax_no = models.CharField("Fax No.", max_length=30, blank=True)
    home_page = models.CharField("Home Page", max_length=80, blank=True)
    currency = optional(Currency, "Currency")
    salesperson = optional(Salesperson, "Salesperson", related_name="contacts")

    class Meta:
        ordering = ["no"]

    def __str__(self):
        return f"{self.no} {self.name}".strip()

    def save(self, *args, **kwargs):
        # BC composes a person's name from its parts when no name is typed.
        if self.type == ContactType.PERSON and not self.name:
            self.name = " ".join(
                part for part in (self.first_name, self.middle_name, self.surname) if part
            )
        super().save(*args, **kwargs)

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.type == ContactType.COMPANY and self.company_id and self.company_id != self.pk:
            raise ValidationError({"company": "A contact of type Company cannot belong to one."})
        if self.company_id and self.company_id == self.pk:
            raise ValidationError({"company": "A contact cannot be its own company."})


class Party(ERPRecord, Address):
    """What customers and vendors share."""

    no = models.CharField("No.", max_length=20, unique=True)
    name = models.CharField("Name", max_length=100)
    fax_no = models.CharField("Fax No.", max_length=30, blank=True)
    home_page = models.CharField("Home Page", max_length=80, blank=True)
    contact = models.CharField("Contact", max_length=100, blank=True)
    currency = optional(Currency, "Currency")
    payment_terms = optional(PaymentTerms, "Payment Terms")
    shipment_method = optional(ShipmentMethod, "Shipment Method")
    shipping_agent = optional(ShippingAgent, "Shipping Agent")
    primary_contact = optional(
        Contact, "Primary Contact", on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        abstract = True
        ordering = ["no"]

    def __str__(self):
        return f"{self.no} {self.name}"


class Customer(Party):
    salesperson = optional(Salesperson, "Salesperson", related_name="customers")
    customer_price_group = optional(CustomerPriceGroup, "Customer Price Group")
    credit_limit_lcy = money("Credit Limit (LCY)")
    blocked = models.CharField(
        "Blocked", max_length=10, choices=Blocked.choices, default=Blocked.NONE, blank=True
    )
    # Customer statistics pushed to the CRM's account statistics. BC computes them as
    # FlowFields; here they are stored and refreshed by refresh_statistics().
    balance_lcy = money("Balance (LCY)", editable=False)
    outstanding_orders_lcy = money("Outstanding Orders (LCY)")
    shipped_not_invoiced_lcy = money("Shipped Not Invoiced (LCY)")
    sales_lcy = money("Total Sales (LCY)", editable=False)

    def refresh_statistics(self, save=True):
        """Balance and total sales from the posted invoices (open amount and all amounts)."""
        totals = self.posted_invoices.aggregate(
            total=models.Sum("amount_including_vat"),
            open=models.Sum("remaining_amount"),
        )
        self.sales_lcy = totals["total"] or ZERO
        self.balance_lcy = totals["open"] or ZERO
        if save:
            self.save(update_fields=["sales_lcy", "balance_lcy"])


class Vendor(Party):
    purchaser = optional(Salesperson, "Purchaser", related_name="vendors")
    blocked = models.CharField(
        "Blocked",
        max_length=10,
        choices=VendorBlocked.choices,
        default=VendorBlocked.NONE,
        blank=True,
    )


class Item(ERPRecord):
    no = models.CharField("No.", max_length=20, unique=True)
    description = models.CharField("Description", max_length=100)
    base_unit_of_measure = optional(UnitOfMeasure, "Base Unit of Measure")
    unit_price = money("Unit Price")
    unit_cost = money("Unit Cost")
    vendor_no = models.CharField("Vendor No.", max_length=20, blank=True)
    vendor_item_no = models.CharField("Vendor Item No.", max_length=50, blank=True)
    gross_weight = measure("Gross Weight")
    unit_volume = measure("Unit Volume")
    blocked = models.BooleanField("Blocked", default=False)
    inventory = measure("Inventory")

    class Meta:
        ordering = ["no"]

    def __str__(self):
        return f"{self.no} {self.description}"


class Resource(ERPRecord):
    no = models.CharField("No.", max_length=20, unique=True)
    name = models.CharField("Name", max_length=100)
    base_unit_of_measure = optional(UnitOfMeasure, "Base Unit of Measure")
    unit_price = money("Unit Price")
    unit_cost = money("Unit Cost")
    blocked = models.BooleanField("Blocked", default=False)

    class Meta:
        ordering = ["no"]

    def __str__(self):
        return f"{self.no} {self.name}"


class SalesPrice(ERPRecord):
    """A price of an item, for all customers or for one customer price group."""

    item = models.ForeignKey(Item, verbose_name="Item", on_delete=models.CASCADE)
    customer_price_group = optional(
        CustomerPriceGroup,
        "Customer Price Group",
        on_delete=models.CASCADE,
        help_text="Empty: the price applies to all customers.",
    )
    currency = optional(Currency, "Currency")
    unit_of_measure = optional(UnitOfMeasure, "Unit of Measure")
    minimum_quantity = measure("Minimum Quantity")
    unit_price = models.DecimalField("Unit Price", max_digits=18, decimal_places=2)
    starting_date = models.DateField("Starting Date", null=True, blank=True)
    ending_date = models.DateField("Ending Date", null=True, blank=True)

    class Meta:
        ordering = ["item__no", "customer_price_group__code", "minimum_quantity"]

    def __str__(self):
        group = self.customer_price_group.code if self.customer_price_group_id else "ALL"
        return f"{self.item.no} {group} {self.unit_price}"

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.starting_date and self.ending_date and self.ending_date < self.starting_date:
            raise ValidationError({"ending_date": "The ending date is before the starting date."})


class PostedSalesInvoice(ERPRecord):
    no = models.CharField("No.", max_length=20, unique=True)
    sell_to_customer = models.ForeignKey(
        Customer,
        verbose_name="Sell-to Customer",
        on_delete=models.PROTECT,
        related_name="posted_invoices",
    )
    posting_date = models.DateField("Posting Date", default=timezone.localdate)
    due_date = models.DateField("Due Date", null=True, blank=True)
    currency = optional(Currency, "Currency")
    salesperson = optional(Salesperson, "Salesperson")
    your_reference = models.CharField("Your Reference", max_length=35, blank=True)
    amount = money("Amount")
    amount_including_vat = money("Amount Including VAT")
    remaining_amount = money("Remaining Amount")

    class Meta:
        ordering = ["-posting_date", "no"]
        verbose_name = "posted sales invoice"

    def __str__(self):
        return self.no


class PostedSalesInvoiceLine(ERPRecord):
    invoice = models.ForeignKey(
        PostedSalesInvoice, verbose_name="Document", on_delete=models.CASCADE, related_name="lines"
    )
    line_no = models.PositiveIntegerField("Line No.")
    type = models.CharField(
        "Type", max_length=12, choices=InvoiceLineType.choices, default=InvoiceLineType.ITEM
    )
    item = optional(Item, "Item")
    resource = optional(Resource, "Resource")
    description = models.CharField("Description", max_length=100, blank=True)
    unit_of_measure = optional(UnitOfMeasure, "Unit of Measure")
    quantity = measure("Quantity")
    unit_price = money("Unit Price")
    line_amount = money("Line Amount")

    class Meta:
        ordering = ["invoice", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "line_no"], name="unique_invoice_line_no")
        ]
        verbose_name = "posted sales invoice line"

    def __str__(self):
        return f"{self.invoice.no} {self.line_no}"
