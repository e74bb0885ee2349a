"""What the ERP tables' pages show: list columns, search, filters and BC's FastTabs. The site is
handed to syncadmin's registry (`sites`) when the app starts (ErpAppConfig.ready() loads this
module): the home page and the navigation list its tables from there."""

from erp_app import models as m
from syncadmin.pages import PageSite, sites

site = sites.register(PageSite("erp", "ERP"))

ADDRESS = ["address", "address_2", "post_code", "city", "county", "country_region_code"]
SYSTEM = ["system_id", "modified_at"]  # ERPRecord's fields, on every table


def register(model, *, fieldsets, **options):
    """An ERP table's page: its FastTabs as given, then System, the last on every page."""
    return site.register(model, fieldsets=[*fieldsets, ("System", list(SYSTEM))], **options)


register(
    m.Customer,
    list_columns=[
        "no",
        "name",
        "city",
        "phone_no",
        "salesperson",
        "currency",
        "credit_limit_lcy",
        "balance_lcy",
        "blocked",
    ],
    search_fields=["no", "name", "city", "email", "contact"],
    filter_fields=[
        "salesperson",
        "currency",
        "blocked",
        "customer_price_group",
        "country_region_code",
    ],
    fieldsets=[
        ("General", ["no", "name", "blocked", "salesperson", "credit_limit_lcy"]),
        (
            "Address & Contact",
            [*ADDRESS, "phone_no", "fax_no", "email", "home_page", "contact", "primary_contact"],
        ),
        ("Invoicing", ["currency", "customer_price_group", "payment_terms"]),
        ("Shipping", ["shipment_method", "shipping_agent"]),
        (
            "Statistics",
            ["balance_lcy", "outstanding_orders_lcy", "shipped_not_invoiced_lcy", "sales_lcy"],
        ),
    ],
    related=[
        (
            "Posted Sales Invoices",
            "posted_invoices",
            ["no", "posting_date", "amount_including_vat", "remaining_amount"],
        )
    ],
)
register(
    m.Vendor,
    list_columns=["no", "name", "city", "phone_no", "purchaser", "currency", "blocked"],
    search_fields=["no", "name", "city", "email", "contact"],
    filter_fields=["purchaser", "currency", "blocked", "country_region_code"],
    fieldsets=[
        ("General", ["no", "name", "blocked", "purchaser"]),
        (
            "Address & Contact",
            [*ADDRESS, "phone_no", "fax_no", "email", "home_page", "contact", "primary_contact"],
        ),
        ("Invoicing", ["currency", "payment_terms"]),
        ("Shipping", ["shipment_method", "shipping_agent"]),
    ],
)
register(
    m.Contact,
    list_columns=["no", "name", "type", "company", "job_title", "email", "phone_no", "salesperson"],
    search_fields=["no", "name", "first_name", "surname", "email", "company__name"],
    filter_fields=["type", "company", "salesperson", "currency"],
    fieldsets=[
        (
            "General",
            [
                "no",
                "type",
                "company",
                "customer",
                "name",
                "first_name",
                "middle_name",
                "surname",
                "job_title",
                "salesperson",
                "currency",
            ],
        ),
        (
            "Address & Contact",
            [*ADDRESS, "phone_no", "mobile_phone_no", "fax_no", "email", "home_page"],
        ),
    ],
    related=[("Persons", "people", ["no", "name", "job_title", "email"])],
)
register(
    m.Salesperson,
    list_columns=["code", "name", "email", "phone_no", "job_title"],
    search_fields=["code", "name", "email"],
    fieldsets=[
        ("General", ["code", "name", "job_title", "email", "phone_no"]),
    ],
    related=[("Customers", "customers", ["no", "name", "city"])],
)
register(
    m.Currency,
    list_columns=["code", "description", "symbol"],
    search_fields=["code", "description"],
    fieldsets=[
        ("General", ["code", "description", "symbol"]),
    ],
)
register(
    m.Item,
    list_columns=[
        "no",
        "description",
        "base_unit_of_measure",
        "unit_price",
        "unit_cost",
        "inventory",
        "vendor_no",
        "blocked",
    ],
    search_fields=["no", "description", "vendor_no", "vendor_item_no"],
    filter_fields=["base_unit_of_measure", "blocked"],
    fieldsets=[
        (
            "Item",
            [
                "no",
                "description",
                "base_unit_of_measure",
                "blocked",
                "inventory",
                "gross_weight",
                "unit_volume",
            ],
        ),
        ("Prices & Sales", ["unit_price", "unit_cost"]),
        ("Replenishment", ["vendor_no", "vendor_item_no"]),
    ],
    related=[
        (
            "Sales Prices",
            "salesprice_set",
            [
                "customer_price_group",
                "currency",
                "minimum_quantity",
                "unit_price",
                "starting_date",
                "ending_date",
            ],
        )
    ],
)
register(
    m.Resource,
    list_columns=["no", "name", "base_unit_of_measure", "unit_price", "unit_cost", "blocked"],
    search_fields=["no", "name"],
    filter_fields=["base_unit_of_measure", "blocked"],
    fieldsets=[
        ("General", ["no", "name", "base_unit_of_measure", "blocked"]),
        ("Invoicing", ["unit_price", "unit_cost"]),
    ],
)
SALES_PRICE = [
    "item",
    "customer_price_group",
    "currency",
    "unit_of_measure",
    "minimum_quantity",
    "unit_price",
    "starting_date",
    "ending_date",
]
register(
    m.SalesPrice,
    list_columns=SALES_PRICE,
    search_fields=["item__no", "item__description", "customer_price_group__code"],
    filter_fields=["customer_price_group", "currency", "unit_of_measure"],
    fieldsets=[("General", list(SALES_PRICE))],
)
register(
    m.PostedSalesInvoice,
    list_columns=[
        "no",
        "sell_to_customer",
        "posting_date",
        "due_date",
        "currency",
        "amount",
        "amount_including_vat",
        "remaining_amount",
    ],
    search_fields=["no", "sell_to_customer__no", "sell_to_customer__name", "your_reference"],
    filter_fields=["sell_to_customer", "currency", "salesperson"],
    fieldsets=[
        (
            "General",
            ["no", "sell_to_customer", "posting_date", "due_date", "salesperson", "your_reference"],
        ),
        ("Invoice Details", ["currency", "amount", "amount_including_vat", "remaining_amount"]),
    ],
    related=[
        (
            "Lines",
            "lines",
            [
                "line_no",
                "type",
                "item",
                "resource",
                "description",
                "quantity",
                "unit_of_measure",
                "unit_price",
                "line_amount",
            ],
        )
    ],
)
for setup_model in (
    m.UnitOfMeasure,
    m.CustomerPriceGroup,
    m.PaymentTerms,
    m.ShipmentMethod,
    m.ShippingAgent,
):
    extra = [
        f.name
        for f in setup_model._meta.fields
        if f.name not in {"id", "code", "description", *SYSTEM}
    ]
    register(
        setup_model,
        list_columns=["code", "description", *extra],
        search_fields=["code", "description"],
        fieldsets=[
            ("General", ["code", "description", *extra]),
        ],
    )
