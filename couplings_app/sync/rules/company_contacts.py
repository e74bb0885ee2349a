"""Company contacts of new customers: Business Central creates a company contact (business
relation) for each new customer, so a customer the sync creates from a CRM account gets one; the
CONTACT mapping translates a person's company to the parent account through it.
"""

from django.db import IntegrityError, transaction

from couplings_app.sync.bulk import bulk_insert, new_instance
from couplings_app.sync.rules.registry import register
from mappings_app.choices import Direction

APPLIES_TO = ("erp_app.customer", "account")


@register("after_page", *APPLIES_TO, Direction.FROM_CRM)
def company_contacts_of_page(run, page) -> None:
    company_contacts_for_new_customers(run, getattr(run, "created_ids", []))


def company_contacts_for_new_customers(run, created_ids) -> None:
    """A company contact for each customer created, unless one with its number exists."""
    from erp_app.choices import ContactType
    from erp_app.models import Contact

    if not created_ids:
        return
    customers = run.model._default_manager.filter(pk__in=created_ids).values(
        "pk", "no", "name", "address", "city", "post_code", "phone_no", "email",
        "country_region_code", "salesperson_id")
    contacts = {f"CT-{c['no']}"[:20]: new_instance(
        Contact,
        no=f"CT-{c['no']}"[:20], type=ContactType.COMPANY, name=c["name"], customer_id=c["pk"],
        address=c["address"], city=c["city"], post_code=c["post_code"], phone_no=c["phone_no"],
        email=c["email"], country_region_code=c["country_region_code"],
        salesperson_id=c["salesperson_id"]) for c in customers}
    existing = set(Contact.objects.filter(no__in=list(contacts)).values_list("no", flat=True))
    new = [contact for no, contact in contacts.items() if no not in existing]
    try:
        with transaction.atomic():
            bulk_insert(Contact, new, keys=False)
    except IntegrityError:  # another process made one of them meanwhile: keep theirs
        Contact.objects.bulk_create(new, ignore_conflicts=True, batch_size=1000)
