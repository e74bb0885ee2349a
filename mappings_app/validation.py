"""Checks of table and field mappings against the ERP's models and the CRM's metadata.

Each function returns {field name: [messages]} for ValidationError; every message names the
thing at fault and what to do. Called from the models' clean(), so every way of saving a mapping
(pages, admin, setup_defaults) refuses the same bad input. The CRM's metadata is read from the
cache only (mappings_app.metadata): validation never asks the CRM.
"""

from decimal import Decimal

from dataverse import filter as odata_filter
from mappings_app import kinds, local_filter, metadata
from mappings_app.choices import Direction, TransformationType
from mappings_app.kinds import DATE, LOOKUP, REMOTE_KINDS, resolve_local_field  # noqa: F401 - read here


def remote_attributes(logical_name: str) -> tuple[dict | None, str | None]:
    """The cached attributes of a CRM entity, or why there are none. Never asks the CRM: the
    forms (and Refresh CRM Metadata) read it before they validate."""
    try:
        return metadata.attributes(logical_name, fetch=False), None
    except metadata.MetadataUnavailable as exc:
        return None, str(exc)


def find_attribute(attributes: dict, name: str) -> dict | None:
    """An attribute by its logical name or its Web API name (_ownerid_value)."""
    if name in attributes:
        return attributes[name]
    if name.startswith("_") and name.endswith("_value"):
        found = attributes.get(name[1:-6])
        if found and REMOTE_KINDS.get(found["type"]) == LOOKUP:
            return found
    return None


def check_table_mapping(mapping) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    model = mapping.local_model_class
    if model is None:
        errors.setdefault("local_model", []).append(
            f"There is no table {mapping.local_model!r}. Use app_label.model, "
            "e.g. erp_app.customer."
        )
    else:
        try:
            local_filter.parse(model, mapping.local_filter)
        except local_filter.FilterError as exc:
            errors.setdefault("local_filter", []).append(f"Table filter: {exc}.")
        for key, problem in _template_problems_local(model, mapping.local_template):
            errors.setdefault("local_template", []).append(f"{key}: {problem}")
    attributes, problem = remote_attributes(mapping.remote_entity)
    if attributes is None:
        errors.setdefault("remote_entity", []).append(problem)
        return errors
    entity = metadata.entity(mapping.remote_entity, fetch=False)
    if (
        mapping.remote_entity_set
        and entity.entity_set
        and mapping.remote_entity_set != entity.entity_set
    ):
        errors.setdefault("remote_entity_set", []).append(
            f"The entity set of {mapping.remote_entity} is {entity.entity_set!r}."
        )
    for name, field in (
        ("remote_key", mapping.remote_key),
        ("remote_modified_attribute", mapping.remote_modified_attribute),
    ):
        if field and field not in attributes:
            errors.setdefault(name, []).append(
                f"{mapping.remote_entity} has no attribute {field!r}."
            )
    if mapping.remote_filter.strip():
        try:
            tree = odata_filter.parse(mapping.remote_filter)
        except odata_filter.FilterSyntaxError as exc:
            errors.setdefault("remote_filter", []).append(f"Integration table filter: {exc}.")
        else:
            for prop in odata_filter.properties(tree):
                if find_attribute(attributes, prop.name) is None:
                    errors.setdefault("remote_filter", []).append(
                        f"Integration table filter: {mapping.remote_entity} has no attribute "
                        f"{prop.name!r} (at position {prop.position + 1})."
                    )
    for key in mapping.remote_template or {}:
        if find_attribute(attributes, key) is None:
            errors.setdefault("remote_template", []).append(
                f"{key}: {mapping.remote_entity} has no such attribute."
            )
    if not isinstance(mapping.remote_template, dict):
        errors.setdefault("remote_template", []).append("Enter a JSON object of values.")
    return errors


def _template_problems_local(model, template):
    if not isinstance(template, dict):
        yield "template", "enter a JSON object of field values"
        return
    for key, value in template.items():
        field, problem = resolve_local_field(model, key)
        if problem:
            yield key, problem
            continue
        if field.is_relation:
            continue  # a reference is given by the referenced record's code or number
        try:
            field.clean(field.to_python(value), None)
        except Exception as exc:  # noqa: BLE001 - ValidationError or a conversion error
            messages = getattr(exc, "messages", [str(exc)])
            yield key, f"{value!r} is not a valid value ({'; '.join(messages)})"


def check_field_mapping(fm) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}

    def add(field, message):
        errors.setdefault(field, []).append(message)

    mapping = fm.table_mapping
    if not fm.local_field and not fm.remote_attribute:
        add("local_field", "Enter the ERP field, the CRM attribute, or both.")
        return errors
    if not fm.local_field:
        if fm.direction != Direction.TO_CRM or not fm.constant_value:
            add(
                "local_field",
                "Without an ERP field, give a constant value and the direction "
                "To Integration Table.",
            )
    if not fm.remote_attribute:
        if fm.direction != Direction.FROM_CRM or not fm.constant_value:
            add(
                "remote_attribute",
                "Without a CRM attribute, give a constant value and the "
                "direction From Integration Table.",
            )
    if mapping.direction != Direction.BIDIRECTIONAL and fm.direction not in (
        mapping.direction,
        Direction.BIDIRECTIONAL,
    ):
        add("direction", f"The table mapping only runs {mapping.get_direction_display()}.")
    local = remote = None
    if fm.local_field:
        model = mapping.local_model_class
        if model is None:
            add("local_field", "The table mapping's table does not exist.")
        else:
            local, problem = resolve_local_field(model, fm.local_field)
            if problem:
                add("local_field", problem)
    if fm.remote_attribute:
        attributes, problem = remote_attributes(mapping.remote_entity)
        if attributes is None:
            add("remote_attribute", problem)
        else:
            remote = find_attribute(attributes, fm.remote_attribute)
            if remote is None:
                add(
                    "remote_attribute",
                    f"{mapping.remote_entity} has no attribute {fm.remote_attribute!r}.",
                )
    if local is not None and remote is not None:
        _check_types(fm, local, remote, add)
    if fm.constant_value and remote is not None and not fm.local_field:
        _check_constant(fm, remote, add)
    return errors


def _check_types(fm, local, remote, add):
    lk, rk = kinds.local_kind(local), REMOTE_KINDS.get(remote["type"], kinds.TEXT)
    translated = (
        fm.transformation_rule_id and fm.transformation_rule.type == TransformationType.LOOKUP
    )
    if local.choices and rk == kinds.OPTION:
        lk = kinds.TEXT
    if (lk, rk) not in kinds.COMPATIBLE and not translated and not fm.constant_value:
        add(
            "remote_attribute",
            f"{fm.local_field} ({lk}) cannot be mapped to {fm.remote_attribute} ({rk}). "
            "Pick a matching attribute, or add a Value Lookup Table transformation.",
        )
        return
    if rk == LOOKUP and lk == LOOKUP:
        target = fm.lookup_mapping
        if target is None:
            add(
                "lookup_mapping",
                f"{fm.remote_attribute} is a reference: choose the table "
                "mapping whose couplings translate it.",
            )
            return
        targets = remote.get("targets") or []
        if targets and target.remote_entity not in targets:
            add(
                "lookup_mapping",
                f"{fm.remote_attribute} refers to {', '.join(targets)}, but "
                f"{target.name} couples {target.remote_entity}.",
            )
        if (
            target.local_model_class is not None
            and target.local_model_class is not local.related_model
        ):
            add(
                "lookup_mapping",
                f"{fm.local_field} refers to "
                f"{local.related_model._meta.verbose_name}, but {target.name} couples "
                f"{target.local_model_class._meta.verbose_name}.",
            )
    elif fm.lookup_mapping_id:
        add(
            "lookup_mapping",
            "Only a reference field mapped to a CRM lookup goes through "
            "another mapping's couplings.",
        )


def _check_constant(fm, remote, add):
    kind = REMOTE_KINDS.get(remote["type"], kinds.TEXT)
    value = fm.constant_value
    if kind == kinds.NUMBER or kind == kinds.OPTION:
        try:
            number = Decimal(value.strip())
        except ArithmeticError:
            number = None
        if number is None or not number.is_finite():
            add("constant_value", f"{fm.remote_attribute} takes a number; {value!r} is not one.")
            return
        options = remote.get("options") or {}
        low, high = kinds.WHOLE_LIMITS["Integer"]
        whole = number == number.to_integral_value() and low <= number <= high
        if kind == kinds.OPTION and options and (
            not whole or str(int(number)) not in {str(k) for k in options}
        ):
            allowed = ", ".join(f"{k} {v}" for k, v in options.items())
            add(
                "constant_value",
                f"{value!r} is not an option of {fm.remote_attribute} ({allowed}).",
            )
    elif kind == kinds.BOOL and value.lower() not in {"true", "false", "1", "0", "yes", "no"}:
        add("constant_value", f"{fm.remote_attribute} is Yes/No; {value!r} is neither.")
    elif kind == kinds.TEXT and remote.get("max_length") and len(value) > remote["max_length"]:
        add(
            "constant_value",
            f"{fm.remote_attribute} holds at most {remote['max_length']} characters.",
        )
