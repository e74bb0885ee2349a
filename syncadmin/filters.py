"""Filter sets (django-filter) built from a ModelPage: a search box plus the page's filters."""

from functools import cache, reduce
from operator import or_

import django_filters
from django import forms
from django.db.models import Q

from syncadmin.forms import BootstrapFormMixin


class FilterForm(BootstrapFormMixin, forms.Form):
    pass


class SearchFilterSet(django_filters.FilterSet):
    # Bounded: SQLite refuses a LIKE pattern that long ("pattern too complex").
    q = django_filters.CharFilter(method="search", label="Search", max_length=200)
    search_fields: list[str] = []

    def search(self, queryset, name, value):
        value = value.strip()
        if not value or not self.search_fields:
            return queryset
        query = reduce(or_, (Q(**{f"{f}__icontains": value}) for f in self.search_fields))
        return queryset.filter(query)


@cache
def filterset_for(page) -> type[django_filters.FilterSet]:
    meta = type("Meta", (), {"model": page.model, "fields": page.filter_fields, "form": FilterForm})
    return type(
        f"{page.model.__name__}FilterSet",
        (SearchFilterSet,),
        {"Meta": meta, "search_fields": list(page.search_fields)},
    )
