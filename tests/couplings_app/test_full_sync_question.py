"""The question at the end of a full synchronization (couplings_app.sync.full): do jobs go on
creating records? Yes clears Synch. Only Coupled Records; No sets back what each mapping had.
No CRM: the answer reads and writes only the table mappings and the person's session."""

from couplings_app.models import SyncJob
from couplings_app.sync import full
from mappings_app.models import TableMapping


def test_no_sets_back_what_each_mapping_had_before(mapping):
    other = TableMapping.objects.create(name="CONTACT", local_model="erp_app.contact",
                                        remote_entity="contact", sync_only_coupled=True)
    TableMapping.objects.filter(pk=mapping.pk).update(sync_only_coupled=False)
    session = {}
    full.remember_full_sync(session)
    # The full run changes them (as the runner does for uncoupled records).
    TableMapping.objects.update(sync_only_coupled=True)
    other.sync_only_coupled = False
    other.save()
    assert full.answer_full_sync(session, keep=False) == 2
    assert not TableMapping.objects.get(pk=mapping.pk).sync_only_coupled
    assert TableMapping.objects.get(pk=other.pk).sync_only_coupled
    assert session == {}  # the question is not asked again


def test_no_after_nothing_changed_changes_nothing(mapping):
    session = {}
    full.remember_full_sync(session)
    assert full.answer_full_sync(session, keep=False) == 0


def test_yes_clears_only_coupled_records_on_the_enabled_mappings(mapping):
    TableMapping.objects.filter(pk=mapping.pk).update(sync_only_coupled=True, is_enabled=True)
    session = {}
    full.remember_full_sync(session)
    assert full.answer_full_sync(session, keep=True) == 1
    assert not TableMapping.objects.get(pk=mapping.pk).sync_only_coupled


def test_the_question_waits_for_the_full_run_to_finish(mapping):
    session = {}
    assert full.full_sync_state(session) == {}
    full.remember_full_sync(session)
    job = SyncJob.plan(mapping, full=True)
    assert full.full_sync_state(session) == {"full_sync_running": True, "full_sync_done": False}
    job.start()
    job.finish()
    assert full.full_sync_state(session) == {"full_sync_running": False, "full_sync_done": True}
