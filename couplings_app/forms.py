"""Forms of the coupling and synchronization actions."""

from django import forms

from mappings_app.choices import Direction
from syncadmin.forms import BootstrapFormMixin, selected_pks

AFTER_COUPLING = [
    (Direction.TO_CRM, "Yes - use the ERP's data"),
    (Direction.FROM_CRM, "Yes - use the CRM's data"),
    ("", "No - only couple"),
]


class CouplingForm(BootstrapFormMixin, forms.Form):
    """Set Up Coupling: the CRM record chosen, and what to synchronize afterwards."""

    remote_id = forms.UUIDField(label="CRM record")
    after = forms.ChoiceField(label="Synchronize after coupling", choices=AFTER_COUPLING,
                              required=False)

    def __init__(self, *args, mapping=None, **kwargs):
        super().__init__(*args, **kwargs)
        if mapping is not None:
            runs = mapping.runs
            self.fields["after"].choices = [c for c in AFTER_COUPLING if not c[0] or c[0] in runs]
            if not self.is_bound:
                self.initial["after"] = runs[0] if mapping.sync_after_coupling else ""


class DirectionForm(forms.Form):
    direction = forms.ChoiceField(choices=[(Direction.TO_CRM, "To CRM"),
                                           (Direction.FROM_CRM, "From CRM")])

    def __init__(self, *args, mapping=None, **kwargs):
        super().__init__(*args, **kwargs)
        if mapping is not None:
            self.fields["direction"].choices = [
                c for c in self.fields["direction"].choices if c[0] in mapping.runs]


def selected_ids(request) -> list[int]:
    """The rows ticked in a bulk form."""
    return selected_pks(request.POST.getlist("pk"))
