
from django.db import migrations, models

BATCH = 2000


def index_existing_rows(apps, schema_editor):
    """Indexes the rows stored before the index existed (keys.py says which attributes)."""
    from crm_emulator.keys import keys_of

    Row = apps.get_model("crm_emulator", "Row")
    Key = apps.get_model("crm_emulator", "Key")
    alias = schema_editor.connection.alias
    batch = []
    for entity, rowid, data in Row.objects.using(alias).values_list(
            "entity", "rowid", "data").iterator(chunk_size=BATCH):
        batch.extend(Key(entity=entity, attribute=name, value=value, rowid=rowid)
                     for name, value in keys_of(entity, data).items())
        if len(batch) >= BATCH:
            Key.objects.using(alias).bulk_create(batch)
            batch = []
    Key.objects.using(alias).bulk_create(batch)


class Migration(migrations.Migration):

    dependencies = [
        ('crm_emulator', '0002_tombstone'),
    ]

    operations = [
        migrations.CreateModel(
            name='Key',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('entity', models.CharField(max_length=64)),
                ('attribute', models.CharField(max_length=64)),
                ('value', models.CharField(max_length=400)),
                ('rowid', models.UUIDField()),
            ],
            options={
                'indexes': [models.Index(fields=['entity', 'attribute', 'value'], name='crm_key_lookup'), models.Index(fields=['entity', 'rowid'], name='crm_key_row')],
            },
        ),
        migrations.RunPython(index_existing_rows, migrations.RunPython.noop),
    ]
