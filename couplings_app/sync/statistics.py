"""Customer Statistics: balance, outstanding orders, shipped-not-invoiced and total sales of
coupled customers, pushed onto their CRM accounts (BC's "Business Central Account Statistics").

Only accounts whose figures differ are written; a page costs one query, one read request and at
most one `$batch`.
"""

from couplings_app.choices import JobStatus, JobTrigger, JobType
from couplings_app.models import Coupling, SyncJob
from couplings_app.sync.compare import same
from dataverse import BatchOperation
from dataverse.errors import DataverseError
from mappings_app.connection import scrub
from mappings_app.models import TableMapping

FIELDS = {"balance_lcy": "nav_balance", "outstanding_orders_lcy": "nav_outstandingorders",
          "shipped_not_invoiced_lcy": "nav_shippednotinvoiced", "sales_lcy": "nav_totalsales"}
PAGE_SIZE = 5000
STATISTICS_NAME = "CUSTOMER STATISTICS"  # the mapping_name of statistics jobs


def statistics_mapping():
    """The mapping whose accounts Customer Statistics writes (its jobs are filed under it)."""
    return TableMapping.objects.filter(local_model="erp_app.customer",
                                       remote_entity="account").first()


def push_customer_statistics(*, client, user=None, trigger=JobTrigger.USER,
                             job: SyncJob | None = None) -> SyncJob:
    from erp_app.models import Customer

    job = job or SyncJob.plan(statistics_mapping(), "to_crm", type=JobType.STATISTICS,
                              trigger=trigger, user=user, mapping_name=STATISTICS_NAME)
    if not job.start():
        return job  # a person cancelled it while it waited for its task
    counts = {"modified": 0, "unchanged": 0, "failed": 0}
    couplings = Coupling.objects.filter(local_model="erp_app.customer", remote_entity="account",
                                        pending_create=False).order_by("pk")
    status, message, last = JobStatus.SUCCEEDED, "", 0
    try:
        while True:
            page = list(couplings.filter(pk__gt=last).values_list("pk", "local_id", "remote_id")
                        [:PAGE_SIZE])
            if not page:
                break
            last = page[-1][0]
            customers = Customer.objects.in_bulk([local_id for _, local_id, _ in page])
            rows = client.get_many("accounts", "accountid", [str(r) for *_, r in page],
                                   select=["accountid", *FIELDS.values()])
            rows = {k.lower(): v for k, v in rows.items()}
            operations = []
            for _, local_id, remote_id in page:
                customer, row = customers.get(local_id), rows.get(str(remote_id).lower())
                if customer is None or row is None:
                    continue
                changes = {crm: getattr(customer, erp) for erp, crm in FIELDS.items()
                           if not same(row.get(crm), getattr(customer, erp))}
                if changes:
                    operations.append(BatchOperation("PATCH", "accounts", id=str(remote_id),
                                                     data=changes, etag="*"))
                else:
                    counts["unchanged"] += 1
            for result in client.batch(operations) if operations else []:
                counts["modified" if result.ok else "failed"] += 1
            job.beat(processed=len(page))
    except DataverseError as exc:
        status = JobStatus.FAILED
        message = scrub(f"The CRM did not answer as expected, so the job stopped: {exc}")
    message = message or f"{counts['modified']} accounts updated, {counts['unchanged']} unchanged."
    job.finish(status, message, **counts)
    return job
