"""Generic list / detail / edit / delete views for every registered model page, and the home page.

Thin by design: the page description (syncadmin.pages) says what to show; permissions are Django's
model permissions (view / add / change / delete), checked here and used to hide buttons.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import ProtectedError
from django.forms import modelform_factory
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.views import generic
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from syncadmin.filters import filterset_for
from syncadmin.forms import BootstrapModelForm, formfield
from syncadmin.pages import record_url, sites
from syncadmin.tables import related_columns, table_for


class HomeView(generic.TemplateView):
    template_name = "home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["erp_tables"] = [
            {"page": page, "count": page.model.objects.count()}
            for _, page in sites.pages(self.request.user)
        ]
        return context


class PageMixin:
    """Finds the model page named in the URL (or the one `page` a view of an app's own serves)
    and checks the user's permission for the action."""

    site = None
    page = None
    action = "view"

    def dispatch(self, request, *args, **kwargs):
        if self.page is None:
            self.page = self.site.get(kwargs["model"])
            if self.page is None:
                raise Http404("No such table.")
        if not request.user.has_perm(self.page.perm(self.action)):
            raise PermissionDenied
        self.model = self.page.model
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        return self.model.objects.all()

    def url(self, name, **kwargs):
        return reverse(f"{self.site.namespace}:{name}", kwargs={"model": self.page.slug, **kwargs})

    def list_url(self):
        return self.url("list")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context.update(
            page=self.page,
            site=self.site,
            opts=self.model._meta,
            list_url=self.list_url(),
            can_add=user.has_perm(self.page.perm("add")),
            can_change=user.has_perm(self.page.perm("change")),
            can_delete=user.has_perm(self.page.perm("delete")),
        )
        return context


class ObjectListView(PageMixin, SingleTableMixin, FilterView):
    template_name = "generic/object_list.html"
    paginate_by = 25

    def get_queryset(self):
        queryset = super().get_queryset().select_related(*related_columns(self.page))
        for extension in self.site.extensions:
            queryset = extension.list_queryset(self.page, queryset, self.request)
        return queryset

    def get_filterset_class(self):
        filterset_class = filterset_for(self.page)
        for extension in self.site.extensions:
            filterset_class = extension.filterset_class(self.page, filterset_class, self.request)
        return filterset_class

    def get_table_class(self):
        return table_for(self.page)

    def get_table_kwargs(self):
        extra = [c for e in self.site.extensions for c in e.extra_columns(self.page, self.request)]
        return {"extra_columns": extra} if extra else {}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        for extension in self.site.extensions:
            context.update(extension.list_context(self.page, self.request))
        context["list_templates"] = [t for e in self.site.extensions for t in e.list_templates]
        context["bulk_templates"] = [t for e in self.site.extensions for t in e.bulk_templates]
        context["add_url"] = self.url("add")
        context["filters_active"] = any(
            value for key, value in self.request.GET.items() if key not in {"page", "sort", "q"}
        )
        return context


class ObjectDetailView(PageMixin, generic.DetailView):
    template_name = "generic/object_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        obj = self.object
        context["fieldsets"] = [
            (caption, [self.describe(obj, name) for name in names])
            for caption, names in self.page.fieldsets
        ]
        context["related"] = [
            self.related_rows(caption, getattr(obj, accessor).all(), columns)
            for caption, accessor, columns in self.page.related
        ]
        context["edit_url"] = self.url("edit", pk=obj.pk)
        context["delete_url"] = self.url("delete", pk=obj.pk)
        for extension in self.site.extensions:
            context.update(extension.detail_context(self.page, obj, self.request))
        context["record_templates"] = [t for e in self.site.extensions for t in e.record_templates]
        return context

    @staticmethod
    def related_rows(caption, queryset, columns, limit=200):
        """The rows under the card, each cell a (value, address) pair: the first cell links to
        the row's page and a record in a cell to its own, only where that page exists."""
        opts = queryset.model._meta
        rows = []
        for row in queryset[:limit]:
            cells = []
            for position, name in enumerate(columns):
                if opts.get_field(name).choices:
                    value = getattr(row, f"get_{name}_display")()  # "Item", not "item"
                else:
                    value = getattr(row, name)
                url = record_url(row if position == 0 else value)
                cells.append((value, url))
            rows.append(cells)
        return {
            "caption": caption,
            "labels": [opts.get_field(name).verbose_name for name in columns],
            "rows": rows,
        }

    def describe(self, obj, name):
        field = self.model._meta.get_field(name)
        if field.choices:
            value = getattr(obj, f"get_{name}_display")()
        else:
            value = getattr(obj, name)
        return {"label": field.verbose_name, "value": value, "url": record_url(value), "name": name}


class ObjectFormMixin(PageMixin):
    """Add and edit: the page's fields in its FastTabs, or an app's own `form_class`."""

    template_name = "generic/object_form.html"

    def get_form_class(self):
        if self.form_class is not None:
            return self.form_class
        return modelform_factory(
            self.model,
            form=BootstrapModelForm,
            fields=self.page.form_fields,
            formfield_callback=formfield,
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = context["form"]
        context["form_fieldsets"] = [
            (caption, [form[name] for name in names if name in form.fields])
            for caption, names in self.page.fieldsets
        ]
        return context

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, f"Saved {self.model._meta.verbose_name} {self.object}.")
        return response

    def form_invalid(self, form):
        messages.error(self.request, "Nothing was saved: correct the fields marked below.")
        return super().form_invalid(form)


class ObjectCreateView(ObjectFormMixin, generic.CreateView):
    action = "add"


class ObjectEditView(ObjectFormMixin, generic.UpdateView):
    action = "change"


class ObjectDeleteView(PageMixin, generic.DeleteView):
    """Delete, after a confirmation page; a record still used by others is kept, and the message
    names them."""

    action = "delete"
    template_name = "generic/object_confirm_delete.html"

    def form_valid(self, form):
        obj = self.get_object()
        label = f"{self.model._meta.verbose_name} {obj}"
        try:
            obj.delete()
        except ProtectedError as exc:
            users = sorted({str(o) for o in exc.protected_objects})
            messages.error(self.request, self.not_deleted(obj, label, users))
            return redirect(obj.get_absolute_url())
        messages.success(self.request, self.deleted(obj, label))
        return redirect(self.list_url())

    def not_deleted(self, obj, label, users) -> str:
        """Why a record others use was kept (`users`: what uses it), and what to do."""
        return (f"{label} was not deleted: it is still used by {', '.join(users[:5])}. "
                "Change or delete those records first.")

    def deleted(self, obj, label) -> str:
        return f"Deleted {label}."
