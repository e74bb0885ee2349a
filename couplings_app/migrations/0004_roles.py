"""The viewer, operator and administrator groups with their permissions (couplings_app.roles)."""

from django.db import migrations


def create_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are created after all migrations (post_migrate): create them now.
    for config in apps.get_app_configs():
        config.models_module = True
        create_permissions(config, verbosity=0, apps=apps)
        config.models_module = None
    from couplings_app.roles import ensure_roles

    ensure_roles(apps)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(
        name__in=["viewer", "operator", "administrator"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("couplings_app", "0003_job_queue_hold_and_deleted_side"),
        ("mappings_app", "0001_initial"),
        ("erp_app", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
