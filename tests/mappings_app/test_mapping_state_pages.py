"""The Table Filter's hint on a table mapping's card and edit page names the fields of that
mapping's own ERP table, with examples that are valid filters of it."""

import json
import re

import pytest
from django.urls import reverse

from mappings_app.forms import table_filter_hint, table_filter_hints
from mappings_app.local_filter import parse
from mappings_app.models import TableMapping

pytestmark = pytest.mark.django_db(databases=["default", "crm"])


def make(name, table, entity):
    return TableMapping.objects.create(name=name, local_model=table, remote_entity=entity,
                                       remote_entity_set=f"{entity}s", remote_key=f"{entity}id")


def hint_html(html):
    start = html.index("data-filter-help")
    return html[start:html.index("</details>", start)]


def test_every_tables_examples_are_valid_filters_of_that_table():
    from django.apps import apps

    hints = table_filter_hints()
    assert "erp_app.item" in hints and "erp_app.customer" in hints
    for table, hint in hints.items():
        assert hint["examples"], table
        for example in hint["examples"]:
            parse(apps.get_model(table), example)  # raises on a field the table lacks


def test_the_card_of_an_item_mapping_names_item_fields(admin_client):
    mapping = make("ITEM-PRODUCT", "erp_app.item", "product")
    html = hint_html(admin_client.get(mapping.get_absolute_url()).content.decode())
    assert "fields of Item" in html and "<code>unit_price</code>" in html
    assert "blocked = false" in html and "base_unit_of_measure.code" in html
    for other in ("company", "credit_limit_lcy", "city", "type = person"):
        assert other not in html, other


def test_the_edit_page_of_a_customer_mapping_names_customer_fields(admin_client):
    mapping = make("CUSTOMER", "erp_app.customer", "account")
    html = admin_client.get(reverse("mappings:tablemapping_edit", args=[mapping.pk])) \
        .content.decode()
    hint = hint_html(html)
    assert "fields of Customer" in hint and "credit_limit_lcy &gt;= 1000" in hint
    assert "type = person" not in hint and "company != empty" not in hint
    assert 'id="filter-hints"' in html  # the hint follows another Table chosen on the form


def test_a_new_mapping_asks_for_the_table_first(admin_client):
    html = admin_client.get(reverse("mappings:tablemapping_add")).content.decode()
    assert "Choose the Table first" in hint_html(html)
    hints = json.loads(re.search(r'<script id="filter-hints"[^>]*>(.*?)</script>', html,
                                 re.S).group(1))
    assert hints["erp_app.currency"]["table"] == "Currency"


def test_a_table_without_model_has_no_hint():
    assert table_filter_hint(None) is None


def test_the_list_keeps_its_columns_in_less_width(admin_client):
    """Checked at 1,400 px with a browser: every column shows, nothing scrolls sideways. Here:
    the columns are all there, a watermark is date over time, the row menu is one small button."""
    from django.utils import timezone

    mapping = make("SALESPRC-PRODUCTPRICE", "erp_app.salesprice", "productpricelevel")
    TableMapping.objects.filter(pk=mapping.pk).update(local_synced_until=timezone.now())
    html = admin_client.get(reverse("mappings:tablemapping_list")).content.decode()
    for caption in ("Order", "Name", "Table", "Integration Table", "Direction",
                    "Synch. Only Coupled Records", "Table Filter", "Integration Table Filter",
                    "Synch. Modified On Filter", "Synch. Int. Tbl. Mod. On Fltr.", "Enabled",
                    "No. of Errors", "No. of Skipped", "Priority"):
        assert f">{caption}<" in html, caption
    day = timezone.localtime(timezone.now()).strftime("%Y-%m-%d")
    assert re.search(rf'<span class="text-nowrap" title="[^"]+">{day}</span><br>', html)
    assert 'aria-label="Actions on SALESPRC-PRODUCTPRICE" title="Actions">&#8943;</button>' in html
