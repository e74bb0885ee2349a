"""A contact needs a company that is a customer (seeds: the contact "is assigned to a company";
only contacts with a parent account exist on the CRM's side).

The person-and-company part is data: the CONTACT mapping's Table Filter
(`type = person AND company != empty`) and Integration Table Filter
(`_parentcustomerid_value ne null`) in mappings_app/defaults.py. This module refuses, with a
message naming the rule, a contact whose company is missing or stands for no customer, when the
mapping sends the company's customer as the parent account.
"""

from couplings_app.sync.rules.registry import register
from mappings_app.choices import Direction
from mappings_app.values import ValueProblem

APPLIES_TO = ("erp_app.contact", "contact")


@register("check_local", *APPLIES_TO, Direction.TO_CRM)
def contact_needs_company_of_customer(run, record) -> None:
    """Refuses a contact whose company has no customer (no parent account in the CRM)."""
    if not maps_parent_account(run):
        return
    company = record.company
    if company is None or company.customer_id is None:
        which = f"its company {company.no} ({company.name})" if company else "it has no company"
        raise ValueProblem(
            f"{run.local_label(record)}: {which} is not linked to a customer (business "
            "relation), so the contact has no parent account in the CRM and is not "
            "synchronized: contacts synchronize only when they are assigned to a company of a "
            "customer. Link the company to a customer, or assign the contact to one that is.")


def maps_parent_account(run) -> bool:
    """The mapping sends the contact's company's customer as its parent account."""
    return any(fm.local_field == "company.customer" and fm.remote_attribute == "parentcustomerid"
               for fm in run.fields)
