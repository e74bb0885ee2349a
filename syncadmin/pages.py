"""A registry of model pages: what the generic list / detail / edit views show of a model.

An app registers each model once (`site.register(Model, ...)`) and its urls.py mounts
`page_urls(site)` (syncadmin.generic_urls); the views, tables, filters and forms are built from
this description, so every table gets search, sorting, filters, paging, detail and edit pages
without repeating itself. An app hands its site to `sites` when Django starts it (its
AppConfig.ready() loads its pages module): the home page and the navigation list what `sites`
holds, so syncadmin never imports the apps that use it.
"""

from dataclasses import dataclass, field

from django.db import models
from django.urls import NoReverseMatch, Resolver404, resolve


@dataclass(eq=False)
class ModelPage:
    model: type[models.Model]
    list_columns: list[str]
    search_fields: list[str]
    filter_fields: list[str] = field(default_factory=list)
    # ("FastTab caption", [fields]) as BC groups a card page; the edit form uses the same.
    fieldsets: list[tuple[str, list[str]]] = field(default_factory=list)
    # Related rows shown under the card: (caption, related accessor, [columns]).
    related: list[tuple[str, str, list[str]]] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return self.model._meta.model_name

    @property
    def title(self) -> str:
        return str(self.model._meta.verbose_name_plural).title()

    @property
    def form_fields(self) -> list[str]:
        editable = {f.name for f in self.model._meta.get_fields() if getattr(f, "editable", False)}
        return [name for _, names in self.fieldsets for name in names if name in editable]

    def perm(self, action: str) -> str:
        opts = self.model._meta
        return f"{opts.app_label}.{action}_{opts.model_name}"


class PageExtension:
    """What another app adds to every page of a site (couplings_app: the Dynamics 365 Sales menu,
    the Coupled column and filter, bulk actions). Each hook returns its input unchanged by default;
    `*_templates` are included in the list toolbar / bulk bar / record toolbar."""

    list_templates: tuple[str, ...] = ()
    bulk_templates: tuple[str, ...] = ()
    record_templates: tuple[str, ...] = ()

    def list_queryset(self, page, queryset, request):
        return queryset

    def filterset_class(self, page, filterset_class, request):
        return filterset_class

    def extra_columns(self, page, request) -> list:
        return []

    def list_context(self, page, request) -> dict:
        return {}

    def detail_context(self, page, obj, request) -> dict:
        return {}


class PageSite:
    """The pages of one URL namespace (e.g. "erp")."""

    def __init__(self, namespace: str, caption: str):
        self.namespace = namespace
        self.caption = caption
        self._pages: dict[str, ModelPage] = {}
        self.extensions: list[PageExtension] = []

    def extend(self, extension: PageExtension) -> None:
        if all(type(e) is not type(extension) for e in self.extensions):
            self.extensions.append(extension)

    def register(self, model, **kwargs) -> ModelPage:
        page = ModelPage(model=model, **kwargs)
        if not page.fieldsets:
            page.fieldsets = [("General", [f.name for f in model._meta.fields])]
        self._pages[page.slug] = page
        return page

    def get(self, slug: str) -> ModelPage | None:
        return self._pages.get(slug)

    def __iter__(self):
        return iter(self._pages.values())


class Sites:
    """The registry of the apps' page sites, filled in as each app is started."""

    def __init__(self):
        self._sites: dict[str, PageSite] = {}

    def register(self, site: PageSite) -> PageSite:
        self._sites[site.namespace] = site
        return site

    def get(self, namespace: str) -> PageSite | None:
        return self._sites.get(namespace)

    def __iter__(self):
        return iter(self._sites.values())

    def pages(self, user):
        """(site, page) of every page the user may view, site by site in registration order."""
        return [(site, page) for site in self for page in site
                if user.has_perm(page.perm("view"))]


sites = Sites()


def record_url(obj) -> str | None:
    """The address of `obj`'s page, or None when it has none: a model whose get_absolute_url
    names a generic detail page that no site registers (a posted sales invoice's lines) would
    link to a 404."""
    get = getattr(obj, "get_absolute_url", None)
    if get is None:
        return None
    try:
        url = get()
        match = resolve(url)
    except (NoReverseMatch, Resolver404):
        return None
    site = getattr(match.func, "view_initkwargs", {}).get("site")
    if isinstance(site, PageSite) and site.get(match.kwargs.get("model", "")) is None:
        return None
    return url
