"""The three roles, as Django groups: viewer, operator, administrator.

- viewer: reads every page (every `view_*` permission of the project's apps);
- operator: also runs synchronizations, couples, retries and resolves, manages job queue entries,
  deletes log entries, and edits ERP records (a person who works with the data);
- administrator: also edits the connection, the table and field mappings and the rules.

The embedded CRM's records (its browse pages) are read by every role and edited, like ERP
records, by operators; the CRM's other models (applications, fault knobs) belong to staff only.

`ensure_roles()` is idempotent; the data migration runs it, and so does every `migrate`
(post_migrate), so a permission added later reaches its role.
"""

APPS = ("erp_app", "mappings_app", "couplings_app", "crm_emulator")

OPERATOR_EXTRA = {
    "mappings_app.sync_tablemapping",
    "mappings_app.couple_tablemapping",
    "mappings_app.test_connection",
    "couplings_app.resolve_coupling",
    "couplings_app.manage_jobqueue",
    "couplings_app.delete_syncjob",
    "couplings_app.delete_syncerror",
    "couplings_app.delete_coupling",
}

VIEWER, OPERATOR, ADMINISTRATOR = "viewer", "operator", "administrator"


def role_permissions(all_codes):
    """{role: set of "app.codename"} from every permission that exists."""
    crm_rows = {c for c in all_codes if c.startswith("crm_emulator.") and c.endswith("_row")}
    viewer = {c for c in all_codes if c.split(".", 1)[1].startswith("view_")
              and not c.startswith("crm_emulator.")} | (crm_rows & {"crm_emulator.view_row"})
    erp = {c for c in all_codes if c.startswith("erp_app.")} | crm_rows
    operator = viewer | erp | (OPERATOR_EXTRA & set(all_codes))
    mappings = {c for c in all_codes if c.startswith("mappings_app.")}
    administrator = operator | mappings
    return {VIEWER: viewer, OPERATOR: operator, ADMINISTRATOR: administrator}


def ensure_roles(apps=None, **kwargs):
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = {f"{p.content_type.app_label}.{p.codename}": p for p in
             Permission.objects.filter(content_type__app_label__in=APPS)
             .select_related("content_type")}
    for name, codes in role_permissions(perms).items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*[perms[c] for c in codes])
