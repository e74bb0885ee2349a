"""CRM → ERP: the values the ERP gave the records a page created go back to their CRM rows.

A record created from a CRM row gets values of the ERP's own (a No. from the number series, a
template's defaults, ERP-only fields); they are sent to the row at the end of the page, so the
sides agree when the run ends. The page's PATCHes are sent in a thread of their own (`send`,
right after the page's new records are committed) while the page's updates are written and its
rules run; their answers are taken when the page ends (`collect`), before the next page. A
record whose values were not confirmed keeps its coupling unstamped (no ERP modified-on), as
when the worker dies between its creation and the end of its page (as before: the page's
updates were written in between too).
"""

from concurrent.futures import ThreadPoolExecutor

from couplings_app.models import Coupling
from couplings_app.sync.bulk import bulk_set
from couplings_app.sync.context import Run
from couplings_app.sync.convert import ToCrmPayload
from couplings_app.sync.lookups import ToCrmLookups
from dataverse import BatchOperation
from mappings_app.choices import Direction
from mappings_app.values import ValueProblem


class ErpValues:
    """Sends the ERP's values of a page's new records while the rest of the page is done."""

    def __init__(self, run):
        self.run = run
        self._pool = None
        self._pending = None  # (future of the write's results, operations, created, sent pks)

    def send(self, created) -> None:
        """Builds the PATCHes of `created` ([(record, its CRM row, its coupling)]) and sends
        them in the background (a previous page's are collected first)."""
        self.collect()
        if not created:
            return
        run = self.run
        sender = ToCrmPayload(Run(mapping=run.mapping, job=run.job, client=run.client,
                                  direction=Direction.TO_CRM,
                                  integration_user=run.integration_user))
        resolve = ToCrmLookups(sender.run, [record for record, _, _ in created])
        operations, sent = [], set()  # sent: the pks of the records whose values could be sent
        for record, row, _ in created:
            try:
                changes = sender.changes(sender.payload(record, resolve, create=False), row)
            except ValueProblem:
                continue  # the next run to the CRM reports it, with the record and the field
            if changes:
                operations.append(BatchOperation("PATCH", run.entity_set, id=str(row[run.key]),
                                                 data=changes,
                                                 etag=row.get("@odata.etag") or "*"))
            sent.add(record.pk)
        if not operations:
            self._stamp(created, sent, set())
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="crm-erp-values")
        self._pending = (self._pool.submit(run.client.write, operations), operations, created,
                         sent)

    def collect(self) -> None:
        """Takes the answers of the PATCHes in flight (a CRM error is raised here, as the
        write's own would be) and stamps the couplings of the records whose values arrived."""
        if self._pending is None:
            return
        future, operations, created, sent = self._pending
        self._pending = None
        results = future.result()
        refused = {str(op.id).lower() for op, result in zip(operations, results, strict=True)
                   if not result.ok}
        self._stamp(created, sent, refused)

    def close(self) -> None:
        """Waits for a write still in flight without taking its answers (a job that stops on
        an error): its couplings stay unstamped, so the next run to the CRM sends them."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._pending = None

    def _stamp(self, created, sent, refused) -> None:
        run = self.run
        done = {r.pk: r.modified_at for r, row, _ in created if r.pk in sent
                and str(row[run.key]).lower() not in refused}
        couplings = [coupling for record, _, coupling in created if record.pk in done]
        for coupling in couplings:
            coupling.local_modified_at = done[coupling.local_id]
        bulk_set(Coupling, couplings, ["local_modified_at"])
