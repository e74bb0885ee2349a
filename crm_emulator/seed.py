"""Demo data of the embedded CRM: `seed_crm(rng_seed=...)`, idempotent and deterministic.

Users (licensed salespeople, a disabled one, a non-licensed one, the application user of
`settings.CRM_CLIENT_ID`), currencies, unit groups and units, a price list, accounts of both
relationship types (Customer, Vendor) and both states, contacts with and without a company, and
products: some match ERP records by name or number (so coupling by match has work to do), some do
not. Every record has a fixed id derived from its key, so a second run creates nothing and moves
no `modifiedon`. A record whose unique value (ISO code, product number, user name, ...; see
unique.py) some other record already holds, say one the sync created, is not created again: the
seed uses that record instead.
"""

from __future__ import annotations

import random
import uuid

from django.conf import settings

from crm_emulator import unique
from crm_emulator.apps_registry import register_application
from crm_emulator.browse import BROWSE_USER_DOMAIN
from crm_emulator.models import Row
from crm_emulator.schema import BY_NAME
from crm_emulator.store import UnitOfWork, WriteOp

SEED_NAMESPACE = uuid.UUID("0d6c3a52-7f1b-4c8e-b1d2-5e9a8c7b6a01")
USERS = [  # firstname, lastname, email, title, licensed, disabled
    ("CRM", "Administrator", BROWSE_USER_DOMAIN, "System Administrator", True, False),
    ("John", "Roberts", "jr@cronus.example", "Sales Manager", True, False),
    ("Kevin", "Holm", "kh@cronus.example", "Account Manager", True, False),
    ("Linda", "Tanner", "lt@cronus.example", "Account Manager", True, False),
    ("Peter", "Saddow", "ps@cronus.example", "Sales Representative", True, False),
    ("Annette", "Hill", "ah@cronus.example", "Sales Representative", True, True),  # left
    ("Sam", "Reader", "reader@cronus.example", "Analyst", False, False),  # not licensed
]
CURRENCIES = [("USD", "US Dollar", "$", 1.0), ("EUR", "Euro", "€", 0.92),
              ("GBP", "Pound Sterling", "£", 0.79), ("DKK", "Danish Krone", "kr.", 6.87)]
# Names as the ERP's demo data makes them (erp_app.demo.company_name), and some only in the CRM.
ACCOUNTS = [
    ("Adatum Corporation", 3, 0), ("Trey Research", 3, 0), ("School of Fine Art Ltd.", 3, 0),
    ("Alpine Ski House", 3, 0), ("Relecloud Inc.", 3, 1), ("Coho Winery", 3, 0),
    ("Fabrikam Group", 11, 0), ("Litware Traders", 11, 0), ("Northwind Partners", 11, 1),
    ("Blue Sky Outfitters", 3, 0), ("Vanarsdel Ltd.", 3, 0), ("Nod Publishers", 11, 0),
    ("Bellows College", 8, 0), ("City Power & Light", 3, 1),
]
PRODUCTS = [  # number, name, price: the first match ERP items, the last exist only in the CRM
    ("1896-S", "ATHENS Desk", 1000.80), ("1900-S", "PARIS Guest Chair, black", 192.80),
    ("1906-S", "ATHENS Mobile Pedestal", 281.40), ("1920-S", "ANTWERP Conference Table", 649.40),
    ("1928-S", "AMSTERDAM Lamp", 54.90), ("1000", "Bicycle", 4000.00),
    ("1001", "Touring Bicycle", 4500.00), ("1002", "Road Bicycle", 4800.00),
    ("1003", "Mountain Bicycle", 5200.00), ("1004", "Kids Bicycle", 1800.00),
    ("1005", "Bicycle Helmet", 120.00), ("1006", "Bicycle Lock", 45.00),
    ("1007", "Front Wheel", 380.00), ("1008", "Rear Wheel", 420.00), ("1009", "Saddle", 95.00),
    ("1010", "Pedal Set", 60.00),
]
FIRST = ["Anna", "Ben", "Carla", "David", "Eva", "Frank", "Grace", "Henry", "Ida", "Jonas"]
LAST = ["Larsen", "Smith", "Garcia", "Nguyen", "Brown", "Jensen", "Rossi", "Dubois", "Ito"]
CITIES = [("Atlanta", "31772", "GA", "United States"), ("London", "WC1 3DG", "", "United Kingdom"),
          ("Copenhagen", "1152", "", "Denmark"), ("Munich", "80331", "BY", "Germany")]


def stored_id(logical_name: str, values: dict) -> str | None:
    """The id of a stored record holding one of these unique values, if any."""
    for rule in unique.rules_of(logical_name):
        key = unique.key_of(rule, values)
        if key is not None:
            found = unique.load_keys(BY_NAME[logical_name], rule,
                                     unique.probe_forms(values[rule.attributes[0]]))
            if key in found:
                return str(found[key])
    return None


def seed_id(*key) -> str:
    return str(uuid.uuid5(SEED_NAMESPACE, "/".join(str(k) for k in key)))


def ref(set_name: str, rowid: str) -> str:
    return f"/{set_name}({rowid})"


class Seeder:
    """Collects creates of missing records and writes them as one unit of work."""

    def __init__(self):
        self.ops: list[WriteOp] = []
        self.counts: dict[str, int] = {}

    def add(self, logical_name: str, rowid: str, body: dict, natural: dict | None = None) -> str:
        """Adds a create; returns the id to refer to the record by: that of a stored record with
        the same unique values (`natural`, e.g. {"isocurrencycode": "USD"}) when there is one."""
        entity = BY_NAME[logical_name]
        existing = stored_id(logical_name, natural or body)
        if existing is not None:
            return existing
        self.ops.append(WriteOp("POST", entity, body={entity.primary_id: rowid, **body}))
        self.counts[entity.set_name] = self.counts.get(entity.set_name, 0) + 1
        return rowid

    def write(self, user_id):
        existing = {(r.entity, str(r.rowid)) for r in Row.objects.filter(rowid__in=[
            op.body[op.entity.primary_id] for op in self.ops]).only("entity", "rowid")}
        ops = [op for op in self.ops
               if (op.entity.logical_name, op.body[op.entity.primary_id]) not in existing]
        done = UnitOfWork(user_id).run(ops, atomic=True, continue_on_error=False)
        failed = [op for op in done if op.error]
        if failed:
            raise RuntimeError(f"seed_crm: {failed[0].entity.logical_name}: {failed[0].error}")
        return len(ops)


def seed_crm(rng_seed: int = 2026) -> dict[str, int]:
    """Creates the missing demo records; returns how many records each table holds."""
    rng = random.Random(rng_seed)
    register_application(settings.CRM_TENANT_ID or "demo", settings.CRM_CLIENT_ID,
                                    settings.CRM_CLIENT_SECRET, "syncadmin")
    s = Seeder()
    users = []
    for first, last, email, title, licensed, disabled in USERS:
        rowid = s.add("systemuser", seed_id("systemuser", email), {
            "firstname": first, "lastname": last, "domainname": email,
            "internalemailaddress": email, "title": title, "islicensed": licensed,
            "isdisabled": disabled, "accessmode": 0 if licensed else 3,
            "address1_telephone1": f"+1 555 01{len(users) + 1:02d}"})
        users.append(rowid)
    sellers = [u for u, row in zip(users, USERS, strict=True) if row[4] and not row[5]][1:]
    currencies = {}
    for code, name, symbol, rate in CURRENCIES:
        currencies[code] = s.add("transactioncurrency", seed_id("transactioncurrency", code), {
            "isocurrencycode": code, "currencyname": name, "currencysymbol": symbol,
            "exchangerate": rate, "currencyprecision": 2})
    group = s.add("uomschedule", seed_id("uomschedule", "Default Unit"),
                  {"name": "Default Unit", "baseuomname": "Primary Unit"})
    units = {}
    for name in ("Primary Unit", "PCS", "BOX", "SET"):
        units[name] = s.add("uom", seed_id("uom", name), {
            "name": name, "uomscheduleid@odata.bind": ref("uomschedules", group),
            "quantity": 12.0 if name == "BOX" else 1.0, "isschedulebaseuom": name == "Primary Unit",
            **({"baseuom@odata.bind": ref("uoms", units["Primary Unit"])}
               if name != "Primary Unit" else {})},
            natural={"name": name, "uomscheduleid": group})
    price_list = s.add("pricelevel", seed_id("pricelevel", "Standard"), {
        "name": "Standard", "begindate": "2026-01-01",
        "transactioncurrencyid@odata.bind": ref("transactioncurrencies", currencies["USD"])})
    accounts = []
    for i, (name, relation, state) in enumerate(ACCOUNTS):
        city, postcode, county, country = CITIES[i % len(CITIES)]
        rowid = seed_id("account", name)
        accounts.append(rowid)
        domain = "".join(ch for ch in name.lower() if ch.isalnum())[:20] + ".example"
        s.add("account", rowid, {
            "name": name, "customertypecode": relation, "statecode": state,
            "statuscode": 1 if state == 0 else 2,
            "address1_line1": f"{rng.randint(1, 250)} Main Street", "address1_city": city,
            "address1_postalcode": postcode, "address1_stateorprovince": county,
            "address1_country": country, "telephone1": f"+1 {rng.randint(200, 999)} 555 0{i:03d}",
            "emailaddress1": f"info@{domain}", "websiteurl": f"https://www.{domain}",
            "creditlimit": float(rng.choice([0, 5000, 10000, 25000])),
            "paymenttermscode": rng.choice([1, 2, 3, 4]),
            "address1_shippingmethodcode": rng.choice([2, 3, 4]),
            "ownerid@odata.bind": ref("systemusers", sellers[i % len(sellers)]),
            "transactioncurrencyid@odata.bind": ref(
                "transactioncurrencies", currencies["EUR" if i % 3 == 1 else "USD"])})
    for i in range(18):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 3) % len(LAST)]
        rowid = seed_id("contact", i)
        parent = accounts[i % len(accounts)] if i % 3 else None  # every third has no company
        s.add("contact", rowid, {
            "firstname": first, "lastname": last, "jobtitle": rng.choice(
                ["Purchasing Manager", "Accountant", "CEO", "Sales Assistant"]),
            "emailaddress1": f"{first.lower()}.{last.lower()}{i}@mail.example",
            "telephone1": f"+1 555 02{i:02d}", "address1_city": CITIES[i % len(CITIES)][0],
            **({"parentcustomerid_account@odata.bind": ref("accounts", parent)} if parent else {})})
    for number, name, price in PRODUCTS:
        rowid = s.add("product", seed_id("product", number), {
            "productnumber": number, "name": name, "price": price,
            "standardcost": round(price * 0.62, 2), "currentcost": round(price * 0.62, 2),
            "quantityonhand": float(rng.randint(0, 300)), "producttypecode": 1,
            "defaultuomscheduleid@odata.bind": ref("uomschedules", group),
            "defaultuomid@odata.bind": ref("uoms", units["PCS"]),
            "pricelevelid@odata.bind": ref("pricelevels", price_list),
            "transactioncurrencyid@odata.bind": ref("transactioncurrencies", currencies["USD"])})
        s.add("productpricelevel", seed_id("productpricelevel", number), {
            "pricelevelid@odata.bind": ref("pricelevels", price_list),
            "productid@odata.bind": ref("products", rowid),
            "uomid@odata.bind": ref("uoms", units["PCS"]), "amount": price,
            "transactioncurrencyid@odata.bind": ref("transactioncurrencies", currencies["USD"])},
            natural={"productid": rowid, "pricelevelid": price_list, "uomid": units["PCS"]})
    s.write(users[0])  # "created by" the CRM administrator, not the integration user
    return {name: Row.objects.filter(entity=BY_NAME[e].logical_name).count()
            for name, e in (("users", "systemuser"), ("currencies", "transactioncurrency"),
                            ("accounts", "account"), ("contacts", "contact"),
                            ("products", "product"))}
