"""A card links only to pages that exist: a posted sales invoice's lines have no page of their own
(BC shows them in the invoice's subform), so their Line No. is text, not a link to a 404."""

import re

import pytest
from django.core.management import call_command

from erp_app import models as m
from erp_app.pages import site

pytestmark = pytest.mark.django_db(databases=["default", "crm"])


@pytest.fixture
def demo(db):
    call_command("seed_demo", customers=12)


def links(html):
    return sorted(set(re.findall(r'href="(/erp/[^"#?]*)"', html)))


def test_no_link_on_an_invoice_card_answers_404(admin_client, demo):
    invoice = m.PostedSalesInvoice.objects.filter(lines__isnull=False).first()
    assert invoice is not None, "seed_demo made no invoice with lines"
    html = admin_client.get(invoice.get_absolute_url()).content.decode()
    line = invoice.lines.first()
    assert f"<td>{line.line_no}</td>" in html  # shown, not linked
    assert f"<td>{line.get_type_display()}</td>" in html  # the choice's caption
    found = links(html)
    assert found
    broken = [url for url in found if admin_client.get(url).status_code == 404]
    assert broken == []


@pytest.mark.parametrize("page", [p for p in site if p.related], ids=lambda p: p.slug)
def test_no_link_on_any_card_with_related_rows_answers_404(admin_client, demo, page):
    obj = next((o for o in page.model.objects.all()[:20]
                if any(getattr(o, accessor).exists() for _, accessor, _ in page.related)),
               page.model.objects.first())
    html = admin_client.get(obj.get_absolute_url()).content.decode()
    broken = [url for url in links(html) if admin_client.get(url).status_code == 404]
    assert broken == []
