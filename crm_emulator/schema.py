"""The embedded CRM's tables, described the way Dataverse describes them.

One `Entity` per table with its `Attribute`s, using Dataverse's real logical names, types,
maximum lengths, required levels, option sets and lookup targets, so the sync's default field
mappings, the Web API, the metadata endpoint (`EntityDefinitions`) and the browse pages are all
driven by this one declaration. Rows live in `models.Row` (see there); nothing here touches the
database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

NONE, APP_REQUIRED, SYS_REQUIRED = "None", "ApplicationRequired", "SystemRequired"
MONEY_MIN, MONEY_MAX = -922337203685477.0, 922337203685477.0
INT_MIN, INT_MAX = -2147483648, 2147483647

LOOKUP_TYPES = {"Lookup", "Customer", "Owner"}
OPTION_TYPES = {"Picklist", "State", "Status"}
# Attributes kept in columns of models.Row rather than in its JSON data.
SYSTEM_ATTRIBUTES = ("createdon", "modifiedon", "createdby", "modifiedby", "versionnumber")


@dataclass(frozen=True)
class Attribute:
    name: str
    type: str  # Dataverse's AttributeType: String, Memo, Integer, Decimal, Money, Boolean, ...
    max_length: int | None = None
    required: str = NONE
    options: tuple[tuple[int, str], ...] = ()
    targets: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    precision: int | None = None
    date_only: bool = False
    valid_for_create: bool = True
    valid_for_update: bool = True
    default: object = None
    label: str = ""
    format: str | None = None

    @property
    def is_lookup(self) -> bool:
        return self.type in LOOKUP_TYPES

    @property
    def is_option(self) -> bool:
        return self.type in OPTION_TYPES

    @property
    def web_name(self) -> str:
        """The property's name in the Web API: lookups read as `_<name>_value`."""
        return f"_{self.name}_value" if self.is_lookup else self.name

    @property
    def caption(self) -> str:
        return self.label or self.name

    def option_label(self, value) -> str | None:
        return dict(self.options).get(value)

    @property
    def navigations(self) -> dict[str, str]:
        """Single-valued navigation property names used with `@odata.bind`, to their target."""
        if len(self.targets) == 1:
            return {self.name: self.targets[0]}
        return {f"{self.name}_{target}": target for target in self.targets}


@dataclass(frozen=True)
class Entity:
    logical_name: str
    set_name: str
    display_name: str
    primary_id: str
    primary_name: str | None
    attributes: tuple[Attribute, ...]
    list_columns: tuple[str, ...] = ()
    search_columns: tuple[str, ...] = field(default=())
    ownership: str = "OrganizationOwned"
    change_tracking: bool = True  # EntityMetadata.ChangeTrackingEnabled

    @cached_property
    def attrs(self) -> dict[str, Attribute]:
        return {a.name: a for a in self.attributes}

    @cached_property
    def web_attrs(self) -> dict[str, Attribute]:
        return {a.web_name: a for a in self.attributes}

    @cached_property
    def navigations(self) -> dict[str, tuple[Attribute, str]]:
        navs = {}
        for attribute in self.attributes:
            if attribute.is_lookup and (attribute.valid_for_create or attribute.valid_for_update):
                for nav, target in attribute.navigations.items():
                    navs[nav] = (attribute, target)
        return navs

    @property
    def odata_type(self) -> str:
        return f"Microsoft.Dynamics.CRM.{self.logical_name}"


# --- Attribute shorthands ---------------------------------------------------------------------
def S(name, max_length=100, required=NONE, label="", fmt="Text"):  # noqa: N802
    return Attribute(name, "String", max_length=max_length, required=required, label=label,
                     format=fmt)


def Memo(name, max_length=2000, label=""):  # noqa: N802
    return Attribute(name, "Memo", max_length=max_length, label=label, format="TextArea")


def Int(name, min_value=INT_MIN, max_value=INT_MAX, default=None, label=""):  # noqa: N802
    return Attribute(name, "Integer", min_value=min_value, max_value=max_value, default=default,
                     label=label, format="None")


def Dec(name, precision=2, min_value=-100000000000.0,  # noqa: N802
        max_value=100000000000.0, required=NONE, default=None, label=""):
    return Attribute(name, "Decimal", precision=precision, min_value=min_value,
                     max_value=max_value, required=required, default=default, label=label)


def Money(name, label="", valid_for_create=True, valid_for_update=True):  # noqa: N802
    return Attribute(name, "Money", precision=2, min_value=MONEY_MIN, max_value=MONEY_MAX,
                     label=label, valid_for_create=valid_for_create,
                     valid_for_update=valid_for_update)


def Bool(name, default=False, label=""):  # noqa: N802
    return Attribute(name, "Boolean", default=default, label=label,
                     options=((1, "Yes"), (0, "No")))


def Date(name, date_only=True, label=""):  # noqa: N802
    return Attribute(name, "DateTime", date_only=date_only, label=label,
                     format="DateOnly" if date_only else "DateAndTime")


def Opt(name, options, default=None, required=NONE, label=""):  # noqa: N802
    return Attribute(name, "Picklist", options=tuple(options), default=default,
                     required=required, label=label)


def State(options=((0, "Active"), (1, "Inactive"))):  # noqa: N802
    return Attribute("statecode", "State", options=tuple(options), default=0,
                     required=SYS_REQUIRED, label="Status")


def Status(options=((1, "Active"), (2, "Inactive"))):  # noqa: N802
    return Attribute("statuscode", "Status", options=tuple(options), default=options[0][0],
                     label="Status Reason")


def Lookup(name, *targets, required=NONE, label="", kind="Lookup"):  # noqa: N802
    return Attribute(name, kind, targets=tuple(targets), required=required, label=label)


def Customer(name, required=NONE, label=""):  # noqa: N802
    return Lookup(name, "account", "contact", required=required, label=label, kind="Customer")


def Owner():  # noqa: N802
    return Lookup("ownerid", "systemuser", required=SYS_REQUIRED, label="Owner", kind="Owner")


def Currency(required=NONE):  # noqa: N802
    return Lookup("transactioncurrencyid", "transactioncurrency", required=required,
                  label="Currency")


def Id(name):  # noqa: N802
    return Attribute(name, "Uniqueidentifier", valid_for_update=False, required=SYS_REQUIRED)


def system_attributes():
    return (
        Attribute("createdon", "DateTime", date_only=False, valid_for_create=False,
                  valid_for_update=False, label="Created On", format="DateAndTime"),
        Attribute("modifiedon", "DateTime", date_only=False, valid_for_create=False,
                  valid_for_update=False, label="Modified On", format="DateAndTime"),
        Attribute("createdby", "Lookup", targets=("systemuser",), valid_for_create=False,
                  valid_for_update=False, label="Created By"),
        Attribute("modifiedby", "Lookup", targets=("systemuser",), valid_for_create=False,
                  valid_for_update=False, label="Modified By"),
        Attribute("versionnumber", "BigInt", min_value=-9223372036854775808,
                  max_value=9223372036854775807, valid_for_create=False, valid_for_update=False,
                  label="Version Number"),
    )


def entity(logical_name, set_name, display_name, primary_name, *attributes, **options):
    primary_id = f"{logical_name}id"
    return Entity(logical_name, set_name, display_name, primary_id, primary_name,
                  (Id(primary_id), *attributes, *system_attributes()), **options)


def address():
    return (
        S("address1_line1", 250, label="Street 1"), S("address1_line2", 250, label="Street 2"),
        S("address1_line3", 250, label="Street 3"),
        S("address1_postalcode", 20, label="ZIP/Postal Code"),
        S("address1_city", 80, label="City"),
        S("address1_stateorprovince", 50, label="State/Province"),
        S("address1_country", 80, label="Country/Region"),
    )


CUSTOMER_TYPES = ((1, "Competitor"), (2, "Consultant"), (3, "Customer"), (4, "Investor"),
                  (5, "Partner"), (6, "Influencer"), (7, "Press"), (8, "Prospect"),
                  (9, "Reseller"), (10, "Supplier"), (11, "Vendor"), (12, "Other"))
PAYMENT_TERMS = ((1, "Net 30"), (2, "2% 10, Net 30"), (3, "Net 45"), (4, "Net 60"))
SHIPPING_METHODS = ((1, "Airborne"), (2, "DHL"), (3, "FedEx"), (4, "UPS"), (5, "Postal Mail"),
                    (6, "Full Load"), (7, "Will Call"))

ENTITIES: tuple[Entity, ...] = (
    entity(
        "systemuser", "systemusers", "User", "fullname",
        Attribute("fullname", "String", max_length=200, valid_for_create=False,
                  valid_for_update=False, label="Full Name"),
        S("firstname", 64, label="First Name"), S("lastname", 64, SYS_REQUIRED, "Last Name"),
        S("internalemailaddress", 100, label="Primary Email", fmt="Email"),
        S("domainname", 1024, SYS_REQUIRED, "User Name"), S("title", 128, label="Title"),
        S("address1_telephone1", 64, label="Main Phone", fmt="Phone"),
        S("mobilephone", 64, label="Mobile Phone", fmt="Phone"),
        Bool("isdisabled", label="Status"), Bool("islicensed", label="User Licensed"),
        Opt("accessmode", ((0, "Read-Write"), (1, "Administrative"), (3, "Support User"),
                           (4, "Non-interactive")), default=0, label="Access Mode"),
        Attribute("applicationid", "Uniqueidentifier", label="Application ID"),
        Bool("isintegrationuser", label="Integration user mode"),
        list_columns=("fullname", "internalemailaddress", "title", "isdisabled", "islicensed",
                      "accessmode"),
        search_columns=("fullname", "internalemailaddress", "domainname"),
    ),
    entity(
        "account", "accounts", "Account", "name",
        S("name", 160, APP_REQUIRED, "Account Name"),
        S("accountnumber", 20, label="Account Number"),
        *address(),
        S("telephone1", 50, label="Main Phone", fmt="Phone"),
        S("telephone2", 50, label="Other Phone", fmt="Phone"), S("fax", 50, label="Fax"),
        S("emailaddress1", 100, label="Email", fmt="Email"),
        S("websiteurl", 200, label="Website", fmt="Url"),
        Money("creditlimit", "Credit Limit"), Memo("description", label="Description"),
        Opt("customertypecode", CUSTOMER_TYPES, label="Relationship Type"),
        State(), Status(),
        Opt("paymenttermscode", PAYMENT_TERMS, label="Payment Terms"),
        Opt("address1_shippingmethodcode", SHIPPING_METHODS, label="Shipping Method"),
        Owner(), Currency(),
        Lookup("primarycontactid", "contact", label="Primary Contact"),
        Lookup("parentaccountid", "account", label="Parent Account"),
        Money("nav_balance", "Balance"), Money("nav_outstandingorders", "Outstanding Orders"),
        Money("nav_shippednotinvoiced", "Shipped Not Invoiced"),
        Money("nav_totalsales", "Total Sales"),
        list_columns=("name", "accountnumber", "address1_city", "telephone1",
                      "customertypecode", "statecode"),
        search_columns=("name", "accountnumber", "address1_city", "emailaddress1"),
        ownership="UserOwned",
    ),
    entity(
        "contact", "contacts", "Contact", "fullname",
        S("firstname", 50, label="First Name"), S("middlename", 50, label="Middle Name"),
        S("lastname", 50, APP_REQUIRED, "Last Name"),
        Attribute("fullname", "String", max_length=160, valid_for_create=False,
                  valid_for_update=False, label="Full Name"),
        S("jobtitle", 100, label="Job Title"), S("emailaddress1", 100, label="Email", fmt="Email"),
        S("telephone1", 50, label="Business Phone", fmt="Phone"),
        S("mobilephone", 50, label="Mobile Phone", fmt="Phone"), S("fax", 50, label="Fax"),
        S("websiteurl", 200, label="Website", fmt="Url"),
        *(a for a in address() if a.name != "address1_line3"),
        State(), Status(),
        Customer("parentcustomerid", label="Company Name"), Owner(), Currency(),
        list_columns=("fullname", "jobtitle", "emailaddress1", "telephone1",
                      "_parentcustomerid_value", "statecode"),
        search_columns=("fullname", "emailaddress1", "address1_city"),
        ownership="UserOwned",
    ),
    entity(
        "transactioncurrency", "transactioncurrencies", "Currency", "currencyname",
        S("isocurrencycode", 5, SYS_REQUIRED, "Currency Code"),
        S("currencyname", 100, SYS_REQUIRED, "Currency Name"),
        S("currencysymbol", 10, SYS_REQUIRED, "Currency Symbol"),
        Dec("exchangerate", 10, 0.0000000001, 100000000000.0, SYS_REQUIRED, label="Exchange Rate"),
        Int("currencyprecision", 0, 4, default=2, label="Currency Precision"),
        State(), Status(),
        list_columns=("isocurrencycode", "currencyname", "currencysymbol", "exchangerate",
                      "statecode"),
        search_columns=("isocurrencycode", "currencyname"),
    ),
    entity(
        "uomschedule", "uomschedules", "Unit Group", "name",
        S("name", 200, SYS_REQUIRED, "Name"), S("baseuomname", 100, SYS_REQUIRED, "Primary Unit"),
        Memo("description", label="Description"), State(), Status(),
        list_columns=("name", "baseuomname", "statecode"), search_columns=("name",),
    ),
    entity(
        "uom", "uoms", "Unit", "name",
        S("name", 100, SYS_REQUIRED, "Name"),
        Lookup("uomscheduleid", "uomschedule", required=SYS_REQUIRED, label="Unit Schedule"),
        Lookup("baseuom", "uom", label="Base Unit"),
        Dec("quantity", 5, 0.00001, 1000000000.0, default=1.0, label="Quantity"),
        Bool("isschedulebaseuom", label="Is Schedule Base Unit"),
        list_columns=("name", "_uomscheduleid_value", "quantity", "isschedulebaseuom"),
        search_columns=("name",),
    ),
    entity(
        "product", "products", "Product", "name",
        S("name", 100, SYS_REQUIRED, "Name"), S("productnumber", 100, SYS_REQUIRED, "Product ID"),
        Memo("description", label="Description"), Money("price", "List Price"),
        Money("standardcost", "Standard Cost"), Money("currentcost", "Current Cost"),
        Dec("quantityonhand", 2, 0.0, 1000000000.0, label="Quantity On Hand"),
        Dec("stockweight", 2, 0.0, 1000000000.0, label="Stock Weight"),
        Dec("stockvolume", 2, 0.0, 1000000000.0, label="Stock Volume"),
        S("vendorname", 100, label="Vendor"),
        S("vendorpartnumber", 100, label="Vendor Part Number"),
        Opt("producttypecode", ((1, "Sales Inventory"), (2, "Miscellaneous Charges"),
                                (3, "Services"), (4, "Flat Fees")),
            default=1, label="Product Type"),
        State(((0, "Active"), (1, "Retired"), (2, "Draft"), (3, "Under Revision"))),
        Status(((1, "Active"), (2, "Retired"), (0, "Draft"), (3, "Under Revision"))),
        Int("quantitydecimal", 0, 5, default=2, label="Decimals Supported"),
        Lookup("defaultuomscheduleid", "uomschedule", label="Unit Group"),
        Lookup("defaultuomid", "uom", label="Default Unit"),
        Lookup("pricelevelid", "pricelevel", label="Default Price List"), Currency(),
        list_columns=("productnumber", "name", "price", "quantityonhand", "statecode"),
        search_columns=("name", "productnumber", "vendorname"),
    ),
    entity(
        "pricelevel", "pricelevels", "Price List", "name",
        S("name", 100, SYS_REQUIRED, "Name"), Currency(SYS_REQUIRED),
        Date("begindate", label="Start Date"), Date("enddate", label="End Date"),
        Memo("description", label="Description"), State(), Status(),
        list_columns=("name", "_transactioncurrencyid_value", "begindate", "enddate",
                      "statecode"),
        search_columns=("name",),
    ),
    entity(
        "productpricelevel", "productpricelevels", "Price List Item", None,
        Lookup("pricelevelid", "pricelevel", required=SYS_REQUIRED, label="Price List"),
        Lookup("productid", "product", required=SYS_REQUIRED, label="Product"),
        Lookup("uomid", "uom", required=SYS_REQUIRED, label="Unit"),
        Currency(), Money("amount", "Amount"),
        Opt("pricingmethodcode", ((1, "Currency Amount"), (2, "Percent of List"),
                                  (3, "Percent Markup - Current Cost"),
                                  (4, "Percent Margin - Current Cost"),
                                  (5, "Percent Markup - Standard Cost"),
                                  (6, "Percent Margin - Standard Cost")),
            default=1, label="Pricing Method"),
        Opt("quantitysellingcode", ((1, "No Control"), (2, "Whole"), (3, "Whole and Fractional")),
            default=1, label="Quantity Selling Option"),
        list_columns=("_pricelevelid_value", "_productid_value", "_uomid_value", "amount"),
    ),
    entity(
        "invoice", "invoices", "Invoice", "name",
        S("name", 300, SYS_REQUIRED, "Name"), S("invoicenumber", 100, label="Invoice ID"),
        Customer("customerid", required=SYS_REQUIRED, label="Customer"),
        Lookup("pricelevelid", "pricelevel", required=SYS_REQUIRED, label="Price List"),
        Currency(), Owner(),
        Money("totalamount", "Total Amount"), Money("totallineitemamount", "Total Detail Amount"),
        Money("totaltax", "Total Tax"),
        Date("datedelivered", label="Date Delivered"), Date("duedate", label="Due Date"),
        Memo("description", label="Description"),
        State(((0, "Active"), (1, "Closed"), (2, "Paid"), (3, "Canceled"))),
        Status(((1, "New"), (3, "Complete"), (100001, "Paid"), (100003, "Canceled"))),
        list_columns=("invoicenumber", "name", "_customerid_value", "totalamount", "duedate",
                      "statecode"),
        search_columns=("name", "invoicenumber"),
        ownership="UserOwned",
    ),
    entity(
        "invoicedetail", "invoicedetails", "Invoice Product", "productdescription",
        Lookup("invoiceid", "invoice", required=SYS_REQUIRED, label="Invoice"),
        Lookup("productid", "product", label="Existing Product"),
        Lookup("uomid", "uom", label="Unit"),
        S("productdescription", 500, label="Write-In Product"),
        Bool("isproductoverridden", label="Select Product"),
        Dec("quantity", 5, 0.0, 1000000000000.0, SYS_REQUIRED, label="Quantity"),
        Money("priceperunit", "Price Per Unit"), Money("baseamount", "Amount"),
        Money("extendedamount", "Extended Amount"),
        Int("lineitemnumber", 0, INT_MAX, label="Line Item Number"),
        list_columns=("_invoiceid_value", "lineitemnumber", "productdescription", "quantity",
                      "priceperunit", "extendedamount"),
        search_columns=("productdescription",),
        change_tracking=False,
    ),
)

BY_SET: dict[str, Entity] = {e.set_name: e for e in ENTITIES}
BY_NAME: dict[str, Entity] = {e.logical_name: e for e in ENTITIES}


def get_set(set_name: str) -> Entity | None:
    return BY_SET.get(set_name)


def get_entity(logical_name: str) -> Entity | None:
    return BY_NAME.get(logical_name)
