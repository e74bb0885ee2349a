"""Demo data of the ERP side: realistic, deterministic, and idempotent.

Records are created only when missing (by their code or number), so running it again changes
nothing and moves no `modified_at`: a second run never makes work for the synchronization.

`size`: besides the demo, at least that many records in the table of every default mapping
that starts in the ERP (customers with their company and person contacts, vendors, items,
resources, customer price groups with their sales prices, posted sales invoices), all made in
bulk, for size tests. The records added this way have salespeople and purchasers the CRM knows,
so they synchronize; the demo's own deliberate failures stay as they are.
"""

import random
import unicodedata
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction

from erp_app import models as m
from erp_app.choices import Blocked, ContactType, InvoiceLineType

SALESPEOPLE = [
    ("JR", "John Roberts", "Sales Manager"),
    ("KH", "Kevin Holm", "Account Manager"),
    ("LT", "Linda Tanner", "Account Manager"),
    ("PS", "Peter Saddow", "Sales Representative"),
    ("RB", "Robin Bettencourt", "Sales Representative"),
    ("HR", "Helena Ray", "Purchaser"),
]
# The last one has no ISO 4217 code: the CURRENCY mapping must report it, not sync it.
CURRENCIES = [
    ("EUR", "€", "Euro"),
    ("USD", "$", "US dollar"),
    ("GBP", "£", "Pound sterling"),
    ("DKK", "kr.", "Danish krone"),
    ("CAD", "$", "Canadian dollar"),
    ("LOCAL", "", "Bonus points (no ISO code)"),
]
UNITS = [("PCS", "Piece"), ("HOUR", "Hour"), ("BOX", "Box"), ("KG", "Kilogram"), ("SET", "Set")]
PAYMENT_TERMS = [
    ("14 DAYS", "Net 14 days", "14D"),
    ("30 DAYS", "Net 30", "30D"),
    ("1M(8D)", "1 Month/2% 8 days", "1M"),
    ("COD", "Cash on delivery", "0D"),
]
SHIPMENT_METHODS = [
    ("EXW", "Ex Warehouse"),
    ("CIF", "Cost Insurance and Freight"),
    ("PICKUP", "Pickup at Location"),
    ("DELIVERY", "Delivered"),
]
SHIPPING_AGENTS = [
    ("DHL", "DHL Systems Inc.", "https://www.dhl.com"),
    ("FEDEX", "Federal Express", "https://www.fedex.com"),
    ("UPS", "UPS", "https://www.ups.com"),
]
PRICE_GROUPS = [("RETAIL", "Retail"), ("WHOLESALE", "Wholesale"), ("EXPORT", "Export")]

COMPANY_WORDS = [
    "Adatum",
    "Trey",
    "School of Fine Art",
    "Alpine Ski",
    "Relecloud",
    "Coho",
    "Fabrikam",
    "Litware",
    "Northwind",
    "Proseware",
    "Tailspin",
    "Wingtip",
    "Contoso",
    "Woodgrove",
    "Lucerne",
    "Margie's",
    "Fourth Coffee",
    "Humongous",
    "Blue Yonder",
    "Graphic Design",
    "Munson's",
    "Southridge",
    "Wide World",
    "Consolidated Messenger",
]
COMPANY_SUFFIXES = [
    "Corporation",
    "Research",
    "Ltd.",
    "House",
    "Inc.",
    "Winery",
    "Group",
    "Traders",
    "Partners",
    "Supplies",
]
CITIES = [
    ("Atlanta", "31772", "GA", "US"),
    ("Chicago", "61236", "IL", "US"),
    ("Miami", "37125", "FL", "US"),
    ("London", "WC1 3DG", "", "GB"),
    ("Manchester", "M12 5TF", "", "GB"),
    ("Copenhagen", "1152", "", "DK"),
    ("Toronto", "M5E 1W7", "ON", "CA"),
    ("Munich", "80331", "BY", "DE"),
]
STREETS = [
    "Main Street",
    "Oak Avenue",
    "Harbour Road",
    "Mill Lane",
    "Station Road",
    "Park Place",
    "High Street",
    "Riverside Drive",
]
FIRST_NAMES = [
    "Anna",
    "Ben",
    "Carla",
    "David",
    "Eva",
    "Frank",
    "Grace",
    "Henry",
    "Ida",
    "Jonas",
    "Karin",
    "Lars",
    "Maria",
    "Nils",
    "Olivia",
    "Paul",
]
SURNAMES = [
    "Larsen",
    "Smith",
    "Garcia",
    "Nguyen",
    "Müller",
    "Brown",
    "Jensen",
    "Rossi",
    "Kowalski",
    "Dubois",
    "Ito",
    "Andersen",
]
JOB_TITLES = ["Purchasing Manager", "Accountant", "CEO", "Sales Assistant", "IT Manager"]
ITEMS = [
    ("1896-S", "ATHENS Desk", "PCS", "1000.80"),
    ("1900-S", "PARIS Guest Chair, black", "PCS", "192.80"),
    ("1906-S", "ATHENS Mobile Pedestal", "PCS", "281.40"),
    ("1908-S", "LONDON Swivel Chair, blue", "PCS", "190.10"),
    ("1920-S", "ANTWERP Conference Table", "PCS", "649.40"),
    ("1925-W", "Conference Bundle 1-6", "SET", "1200.00"),
    ("1928-S", "AMSTERDAM Lamp", "PCS", "54.90"),
    ("1936-S", "BERLIN Guest Chair, yellow", "PCS", "192.80"),
    ("1953-W", "Guest Section 1", "SET", "600.00"),
    ("1960-S", "ROME Guest Chair, green", "PCS", "192.80"),
    ("1964-S", "TOKYO Guest Chair, blue", "PCS", "192.80"),
    ("1968-S", "MEXICO Swivel Chair, black", "PCS", "190.10"),
    ("1972-S", "MUNICH Swivel Chair, yellow", "PCS", "190.10"),
    ("1980-S", "MOSCOW Swivel Chair, red", "PCS", "190.10"),
    ("2000-S", "SYDNEY Swivel Chair, green", "PCS", "190.10"),
]
RESOURCES = [
    ("KATHERINE", "Katherine Hull", "74.00"),
    ("LIFT", "Lift for Furniture", "30.00"),
    ("LINDA", "Linda Martin", "88.00"),
    ("MARTY", "Marty Horst", "77.00"),
    ("TERRY", "Terry Dodds", "77.00"),
]


def company_name(index: int) -> str:
    word = COMPANY_WORDS[index % len(COMPANY_WORDS)]
    suffix = COMPANY_SUFFIXES[(index // len(COMPANY_WORDS) + index) % len(COMPANY_SUFFIXES)]
    round_no = index // (len(COMPANY_WORDS) * len(COMPANY_SUFFIXES))
    return f"{word} {suffix}" + (f" {round_no + 1}" if round_no else "")


def _by_key(model, key: str, keys: list) -> dict:
    found = {}
    for start in range(0, len(keys), 900):  # stay under SQLite's limit of query parameters
        chunk = keys[start : start + 900]
        found.update((getattr(o, key), o) for o in model.objects.filter(**{f"{key}__in": chunk}))
    return found


def _ensure(model, key: str, rows: list[dict]) -> dict:
    """Creates the rows whose `key` value is missing, in bulk; returns every row by key."""
    keys = [row[key] for row in rows]
    existing = _by_key(model, key, keys)
    created = model.objects.bulk_create(
        [model(**row) for row in rows if row[key] not in existing], batch_size=1000
    )
    if created and created[0].pk is None:  # a backend that returns no ids: read them back
        return _by_key(model, key, keys)
    existing.update((getattr(o, key), o) for o in created)
    return existing


def ascii_slug(text: str) -> str:
    """Lower-case ASCII letters and digits only, for e-mail addresses and domains."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def _address(rng: random.Random) -> dict:
    city, post_code, county, country = rng.choice(CITIES)
    return {
        "address": f"{rng.randint(1, 250)} {rng.choice(STREETS)}",
        "post_code": post_code,
        "city": city,
        "county": county,
        "country_region_code": country,
        "phone_no": f"+1 {rng.randint(200, 999)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
    }


@transaction.atomic
def seed_erp(customers: int = 40, seed: int = 2026, size: int = 0) -> dict[str, int]:
    rng = random.Random(seed)
    customers = max(customers, size)
    people = _ensure(
        m.Salesperson,
        "code",
        [
            {
                "code": c,
                "name": n,
                "job_title": t,
                "email": f"{c.lower()}@cronus.example",
                "phone_no": f"+1 555 01{i:02d}",
            }
            for i, (c, n, t) in enumerate(SALESPEOPLE)
        ],
    )
    currencies = _ensure(
        m.Currency, "code", [{"code": c, "symbol": s, "description": d} for c, s, d in CURRENCIES]
    )
    units = _ensure(m.UnitOfMeasure, "code", [{"code": c, "description": d} for c, d in UNITS])
    terms = _ensure(
        m.PaymentTerms,
        "code",
        [{"code": c, "description": d, "due_date_calculation": f} for c, d, f in PAYMENT_TERMS],
    )
    methods = _ensure(
        m.ShipmentMethod, "code", [{"code": c, "description": d} for c, d in SHIPMENT_METHODS]
    )
    agents = _ensure(
        m.ShippingAgent,
        "code",
        [{"code": c, "description": d, "internet_address": u} for c, d, u in SHIPPING_AGENTS],
    )
    groups = _ensure(
        m.CustomerPriceGroup, "code", [{"code": c, "description": d} for c, d in PRICE_GROUPS]
    )
    sellers = [people[c] for c in ("JR", "KH", "LT", "PS")]

    customer_rows, company_rows = [], []
    for i in range(customers):
        name = company_name(i)
        address = _address(rng)
        domain = ascii_slug(name)[:20] + ".example"
        customer_rows.append(
            {
                "no": f"C{i + 1:05d}",
                "name": name,
                **address,
                "email": f"info@{domain}",
                "home_page": f"www.{domain}",
                # Every seventh customer has no salesperson; a few buy in a foreign currency.
                # One in twenty is RB's, who has no CRM user: the seeds' rule "the salesperson
                # must be coupled to a user" refuses those few, on purpose.
                "salesperson": None if i % 7 == 6 else people["RB"] if i % 20 == 4
                else sellers[i % len(sellers)],
                "currency": [None, None, currencies["EUR"], None, currencies["GBP"]][i % 5],
                "payment_terms": rng.choice(list(terms.values())),
                "shipment_method": rng.choice(list(methods.values())),
                "shipping_agent": rng.choice(list(agents.values())),
                "customer_price_group": rng.choice(list(groups.values())),
                "credit_limit_lcy": Decimal(rng.choice([0, 5000, 10000, 25000, 50000])),
                "blocked": Blocked.ALL if i % 23 == 22 else Blocked.NONE,
                "outstanding_orders_lcy": Decimal(rng.randint(0, 2000_00)) / 100,
            }
        )
        company_rows.append(
            {
                "no": f"CT{i + 1:05d}",
                "type": ContactType.COMPANY,
                "name": name,
                **address,
                "email": f"info@{domain}",
                "salesperson": customer_rows[-1]["salesperson"],
            }
        )
    customer_by_no = _ensure(m.Customer, "no", customer_rows)
    for row in company_rows:
        row["customer"] = customer_by_no[f"C{row['no'][2:]}"]
    companies = _ensure(m.Contact, "no", company_rows)

    person_rows = []
    for i, company in enumerate(sorted(companies.values(), key=lambda c: c.no)):
        company_domain = company.email.split("@")[-1]
        for j in range(1 + i % 2):
            first, last = (
                FIRST_NAMES[(i + j) % len(FIRST_NAMES)],
                SURNAMES[(i * 3 + j) % len(SURNAMES)],
            )
            person_rows.append(
                {
                    "no": f"CP{i + 1:05d}-{j + 1}",
                    "type": ContactType.PERSON,
                    "company": company,
                    "first_name": first,
                    "surname": last,
                    "name": f"{first} {last}",
                    "job_title": JOB_TITLES[(i + j) % len(JOB_TITLES)],
                    "email": f"{ascii_slug(first)}.{ascii_slug(last)}@{company_domain}",
                    "phone_no": company.phone_no,
                    "address": company.address,
                    "city": company.city,
                    "post_code": company.post_code,
                    "country_region_code": company.country_region_code,
                    "salesperson": company.salesperson,
                }
            )
    # Persons without a company: the CONTACT mapping must leave them alone.
    for k, (first, last) in enumerate(
        [("Mark", "Hanson"), ("Sofia", "Lindqvist"), ("Tom", "Ward")]
    ):
        person_rows.append(
            {
                "no": f"CP-SOLO{k + 1}",
                "type": ContactType.PERSON,
                "first_name": first,
                "surname": last,
                "name": f"{first} {last}",
                "email": f"{first.lower()}@private.example",
            }
        )
    _ensure(m.Contact, "no", person_rows)
    # A customer's primary contact is its company's first person (set once, when missing).
    persons = {
        c.company_id: c
        for c in m.Contact.objects.filter(
            type=ContactType.PERSON, no__endswith="-1", company__isnull=False
        )
    }
    to_update = []
    for customer in customer_by_no.values():
        company = companies.get(f"CT{customer.no[1:]}")
        if customer.primary_contact_id is None and company and company.pk in persons:
            customer.primary_contact = persons[company.pk]
            customer.contact = persons[company.pk].name
            to_update.append(customer)
    if to_update:
        _update_many(m.Customer, to_update, ["primary_contact", "contact"])

    vendors = _ensure(
        m.Vendor,
        "no",
        [
            {
                "no": f"V{i + 1:05d}",
                "name": company_name(100 + i * 5),
                **_address(rng),
                # One vendor's purchaser (HR) has no CRM user: refused on purpose, as above.
                "purchaser": people["HR"] if i == 3 else people[("JR", "KH")[i % 2]] if i % 4
                else None,
                "currency": [None, currencies["EUR"], None, currencies["USD"]][i % 4],
                "payment_terms": terms["30 DAYS"],
            }
            for i in range(8)
        ],
    )

    items = _ensure(
        m.Item,
        "no",
        [
            {
                "no": no,
                "description": d,
                "base_unit_of_measure": units[u],
                "unit_price": Decimal(p),
                "unit_cost": (Decimal(p) * Decimal("0.62")).quantize(Decimal("0.01")),
                "vendor_no": f"V{(k % 8) + 1:05d}",
                "vendor_item_no": f"VI-{no}",
                "gross_weight": Decimal(rng.randint(1, 60)),
                "unit_volume": Decimal(rng.randint(1, 9)) / 10,
                "inventory": Decimal(rng.randint(0, 300)),
                "blocked": no == "1953-W",
            }
            for k, (no, d, u, p) in enumerate(ITEMS)
        ],
    )
    _ensure(
        m.Resource,
        "no",
        [
            {
                "no": no,
                "name": n,
                "base_unit_of_measure": units["HOUR"],
                "unit_price": Decimal(p),
                "unit_cost": (Decimal(p) * Decimal("0.7")).quantize(Decimal("0.01")),
            }
            for no, n, p in RESOURCES
        ],
    )

    if not m.SalesPrice.objects.exists():
        prices = []
        for k, item in enumerate(sorted(items.values(), key=lambda i: i.no)):
            prices.append(
                m.SalesPrice(
                    item=item, unit_price=item.unit_price, unit_of_measure=item.base_unit_of_measure
                )
            )
            group = list(groups.values())[k % len(groups)]
            prices.append(
                m.SalesPrice(
                    item=item,
                    customer_price_group=group,
                    unit_of_measure=item.base_unit_of_measure,
                    minimum_quantity=Decimal(10),
                    unit_price=(item.unit_price * Decimal("0.9")).quantize(Decimal("0.01")),
                    starting_date=date(2026, 1, 1),
                )
            )
        m.SalesPrice.objects.bulk_create(prices)

    _seed_invoices(rng, customer_by_no, items)
    if size:
        _seed_size(size, people, currencies, units, customer_by_no)
    return {
        "customers": len(customer_by_no),
        "contacts": m.Contact.objects.count(),
        "vendors": m.Vendor.objects.count() if size else len(vendors),
        "items": m.Item.objects.count() if size else len(items),
        **(
            {
                "resources": m.Resource.objects.count(),
                "customer price groups": m.CustomerPriceGroup.objects.count(),
                "sales prices": m.SalesPrice.objects.count(),
                "posted sales invoices": m.PostedSalesInvoice.objects.count(),
            }
            if size
            else {}
        ),
    }


# Salespeople and purchasers of the records `size` adds: the ones the CRM's users match.
SIZE_SELLERS = ["JR", "KH", "LT", "PS"]
ITEM_WORDS = ["Desk", "Chair", "Lamp", "Table", "Cabinet", "Shelf", "Sofa", "Stool"]
ITEM_CITIES = ["ATHENS", "PARIS", "LONDON", "ANTWERP", "BERLIN", "ROME", "TOKYO", "MUNICH"]


def _seed_size(size: int, people, currencies, units, customer_by_no) -> None:
    """At least `size` records in each table a default mapping sends to the CRM, in bulk."""
    rng = random.Random(size)
    sellers = [people[c] for c in SIZE_SELLERS]
    terms = m.PaymentTerms.objects.get(code="30 DAYS")
    _ensure(
        m.Vendor,
        "no",
        [
            {
                "no": f"V{i + 1:05d}",
                "name": company_name(100 + i * 5),
                **_address(rng),
                "purchaser": sellers[i % len(sellers)],
                "currency": [None, currencies["EUR"], None, currencies["USD"]][i % 4],
                "payment_terms": terms,
            }
            for i in range(8, size)  # the demo's first eight keep their purchasers
        ],
    )
    goods = [units[c] for c in ("PCS", "BOX", "KG", "SET")]
    item_rows = []
    for k in range(size):
        price = Decimal(rng.randint(500, 200000)) / 100
        item_rows.append(
            {
                "no": f"ITEM-{k + 1:05d}",
                "description": f"{ITEM_CITIES[k % 8]} {ITEM_WORDS[(k // 8) % 8]} {k + 1}",
                "base_unit_of_measure": goods[k % len(goods)],
                "unit_price": price,
                "unit_cost": (price * Decimal("0.62")).quantize(Decimal("0.01")),
                "vendor_no": f"V{k % size + 1:05d}",
                "vendor_item_no": f"VI-ITEM-{k + 1:05d}",
                "gross_weight": Decimal(rng.randint(1, 60)),
                "inventory": Decimal(rng.randint(0, 300)),
            }
        )
    items = _ensure(m.Item, "no", item_rows)
    _ensure(
        m.Resource,
        "no",
        [
            {
                "no": f"RES-{k + 1:05d}",
                "name": f"{FIRST_NAMES[k % 16]} {SURNAMES[(k // 16) % 12]} {k + 1}",
                "base_unit_of_measure": units["HOUR"],
                "unit_price": Decimal(60 + k % 40),
                "unit_cost": (Decimal(60 + k % 40) * Decimal("0.7")).quantize(Decimal("0.01")),
            }
            for k in range(size)
        ],
    )
    groups = _ensure(
        m.CustomerPriceGroup,
        "code",
        [{"code": f"PG{k + 1:05d}", "description": f"Price group {k + 1}"} for k in range(size)],
    )
    # One price per group of its own, for an item of its own: each (price list, product) once.
    priced = set(
        m.SalesPrice.objects.filter(customer_price_group__code__startswith="PG")
        .values_list("customer_price_group__code", flat=True)
    )
    m.SalesPrice.objects.bulk_create(
        [
            m.SalesPrice(
                item=items[f"ITEM-{k + 1:05d}"],
                customer_price_group=groups[code],
                unit_of_measure=items[f"ITEM-{k + 1:05d}"].base_unit_of_measure,
                unit_price=(items[f"ITEM-{k + 1:05d}"].unit_price * Decimal("0.95")).quantize(
                    Decimal("0.01")
                ),
                starting_date=date(2026, 1, 1),
            )
            for k, code in enumerate(f"PG{k + 1:05d}" for k in range(size))
            if code not in priced
        ],
        batch_size=1000,
    )
    _seed_size_invoices(size, rng, sellers, customer_by_no, items)


def _seed_size_invoices(size, rng, sellers, customer_by_no, items) -> None:
    """`size` posted invoices of one or two lines, for customers the CRM can hold (their
    salesperson is one of its users, or none), and the statistics of those customers."""
    allowed = {p.pk for p in sellers}
    buyers = [
        c
        for c in sorted(customer_by_no.values(), key=lambda c: c.no)
        if c.salesperson_id is None or c.salesperson_id in allowed
    ]
    item_list = [items[f"ITEM-{k + 1:05d}"] for k in range(size)]
    numbers = [f"PSI-S{k + 1:05d}" for k in range(size)]
    existing = set(_by_key(m.PostedSalesInvoice, "no", numbers))
    rows, lines = [], []
    for k, no in enumerate(numbers):
        customer = buyers[k % len(buyers)]
        posting = date(2026, 1, 1) + timedelta(days=rng.randint(0, 300))
        chosen = [
            (item_list[(k + j * 7) % size], Decimal(rng.randint(1, 8))) for j in range(1 + k % 2)
        ]
        if no in existing:
            continue
        total = sum((item.unit_price * qty for item, qty in chosen), Decimal(0))
        with_vat = (total * Decimal("1.25")).quantize(Decimal("0.01"))
        rows.append(
            {
                "no": no,
                "sell_to_customer": customer,
                "posting_date": posting,
                "due_date": posting + timedelta(days=30),
                "currency": customer.currency,
                "salesperson": customer.salesperson,
                "amount": total,
                "amount_including_vat": with_vat,
                "remaining_amount": Decimal(0) if k % 3 == 0 else with_vat,
            }
        )
        lines.append(chosen)
    if not rows:
        return
    created = _ensure(m.PostedSalesInvoice, "no", rows)
    m.PostedSalesInvoiceLine.objects.bulk_create(
        [
            _item_line(created[row["no"]], j + 1, item, qty)
            for row, chosen in zip(rows, lines, strict=True)
            for j, (item, qty) in enumerate(chosen)
        ],
        batch_size=1000,
    )
    _refresh_statistics({row["sell_to_customer"].pk for row in rows})


def _refresh_statistics(customer_ids) -> None:
    """Customer.refresh_statistics for many customers: a few queries, not two per customer."""
    from django.db.models import Sum

    customers = []
    for chunk in _chunks(sorted(customer_ids), 900):
        totals = {
            row["sell_to_customer"]: row
            for row in m.PostedSalesInvoice.objects.filter(sell_to_customer__in=chunk)
            .values("sell_to_customer")
            .annotate(total=Sum("amount_including_vat"), open=Sum("remaining_amount"))
        }
        for customer in m.Customer.objects.filter(pk__in=chunk):
            row = totals.get(customer.pk, {})
            customer.sales_lcy = row.get("total") or Decimal(0)
            customer.balance_lcy = row.get("open") or Decimal(0)
            customers.append(customer)
    _update_many(m.Customer, customers, ["sales_lcy", "balance_lcy"])


def _update_many(model, objs, names) -> None:
    """bulk_update (and a new modified_at) as one parameterized UPDATE run for every object:
    Django's bulk_update builds a CASE per field and batch, minutes of CPU for 10,000 rows."""
    from django.db import connections, router
    from django.utils import timezone

    now = timezone.now()
    fields = [model._meta.get_field(name) for name in [*names, "modified_at"]]
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    sql = (
        f"UPDATE {quote(model._meta.db_table)} SET "
        + ", ".join(f"{quote(f.column)} = %s" for f in fields)
        + f" WHERE {quote(model._meta.pk.column)} = %s"
    )
    rows = []
    for obj in objs:
        obj.modified_at = now
        rows.append(
            [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields] + [obj.pk]
        )
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)


def _chunks(values: list, size: int):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _seed_invoices(rng, customer_by_no, items):
    item_list = sorted(items.values(), key=lambda i: i.no)
    for k, customer in enumerate(sorted(customer_by_no.values(), key=lambda c: c.no)[:20]):
        for n in range(1 + k % 3):
            no = f"PSI{k + 1:04d}{n + 1}"
            if m.PostedSalesInvoice.objects.filter(no=no).exists():
                continue
            posting = date(2026, 1, 1) + timedelta(days=rng.randint(0, 300))
            invoice = m.PostedSalesInvoice.objects.create(
                no=no,
                sell_to_customer=customer,
                posting_date=posting,
                due_date=posting + timedelta(days=30),
                currency=customer.currency,
                salesperson=customer.salesperson,
            )
            total = Decimal(0)
            for line_no in range(1, 2 + rng.randint(0, 2)):
                item = rng.choice(item_list)
                qty = Decimal(rng.randint(1, 8))
                amount = item.unit_price * qty
                total += amount
                _item_line(invoice, line_no, item, qty).save()
            paid = n > 0 and k % 2 == 0
            invoice.amount = total
            invoice.amount_including_vat = (total * Decimal("1.25")).quantize(Decimal("0.01"))
            invoice.remaining_amount = Decimal(0) if paid else invoice.amount_including_vat
            invoice.save()
            customer.refresh_statistics()


def _item_line(invoice, number: int, item, qty):
    """The `number`th line of a posted invoice: `qty` of `item` at its unit price."""
    return m.PostedSalesInvoiceLine(
        invoice=invoice, line_no=number * 10000, type=InvoiceLineType.ITEM, item=item,
        description=item.description, unit_of_measure=item.base_unit_of_measure, quantity=qty,
        unit_price=item.unit_price, line_amount=item.unit_price * qty)
