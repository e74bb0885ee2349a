"""Refusals of the Web API, with Dataverse's status codes, error codes and wording.

Every refusal is an `ApiError`; `as_json()` gives Dataverse's body
`{"error": {"code": "0x...", "message": "..."}}`. The constructors below name the cases.
"""

PAYLOAD_HELP = "https://go.microsoft.com/fwlink/?linkid=2195293"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None,
                 annotations: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.annotations = annotations or {}  # e.g. a bulk message's failing record

    def as_json(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, **self.annotations}}

    def __repr__(self):
        return f"ApiError({self.status}, {self.code!r}, {self.message!r})"


def payload_error(set_name: str, inner: str) -> ApiError:
    """A body the OData reader refuses: unknown property, wrong type, bad bind (0x80048d19)."""
    return ApiError(400, "0x80048d19", (
        f"Error identified in Payload provided by the user for Entity :'{set_name}', For more "
        f"information on this error please follow this help link {PAYLOAD_HELP}  ---->  "
        f"InnerException : Microsoft.OData.ODataException: {inner}"))


def unknown_property(entity, name: str) -> ApiError:
    return payload_error(entity.set_name, (
        f"The property '{name}' does not exist on type '{entity.odata_type}'. Make sure to only "
        "use property names that are defined by the type or mark the type as open type."))


def wrong_type(entity, name: str, value, edm_type: str) -> ApiError:
    return payload_error(entity.set_name, (
        f"Cannot convert the literal '{value}' to the expected type '{edm_type}'."
        f" (property '{name}')"))


def too_long(entity, attribute) -> ApiError:
    return ApiError(400, "0x80044331", (
        f"A validation error occurred. The length of the '{attribute.name}' attribute of the "
        f"'{entity.logical_name}' entity exceeded the maximum allowed length of "
        f"'{attribute.max_length}'."))


def out_of_range(entity, attribute, value) -> ApiError:
    code = "0x80044330" if attribute.type == "Money" else "0x8004432f"
    return ApiError(400, code, (
        f"A validation error occurred. The value {value} of '{attribute.name}' on record of type "
        f"'{entity.logical_name}' is outside the valid range. Accepted range: "
        f"{attribute.min_value} to {attribute.max_value}."))


def bad_option(entity, attribute, value) -> ApiError:
    accepted = ",".join(str(v) for v, _ in attribute.options)
    return ApiError(400, "0x8004431a", (
        f"A validation error occurred. The value {value} of '{attribute.name}' on record of type "
        f"'{entity.logical_name}' is outside the valid range. Accepted Values: {accepted}"))


def required_missing(entity, attribute) -> ApiError:
    return ApiError(400, "0x80040203", (
        f"A validation error occurred. The value of '{attribute.name}' on record of type "
        f"'{entity.logical_name}' is required and cannot be empty."))


def not_found(entity, rowid) -> ApiError:
    return ApiError(404, "0x80040217", f"{entity.logical_name} With Id = {rowid} Does Not Exist")


def duplicate() -> ApiError:
    return ApiError(412, "0x80040237", "A record with matching key values already exists.")


def version_mismatch() -> ApiError:
    return ApiError(412, "0x80060882",
                    "The version of the existing record doesn't match the RowVersion property "
                    "provided.")


def no_segment(segment: str) -> ApiError:
    return ApiError(404, "0x8006088a", f"Resource not found for the segment '{segment}'.")


def no_property(entity_type: str, name: str) -> ApiError:
    return ApiError(400, "0x80060888",
                    f"Could not find a property named '{name}' on type '{entity_type}'.")


def bad_query(message: str) -> ApiError:
    return ApiError(400, "0x80060888", message)


def bad_request(message: str, code: str = "0x80060891") -> ApiError:
    return ApiError(400, code, message)


def method_not_allowed(path: str) -> ApiError:
    return ApiError(405, "0x80060888",
                    f"No HTTP resource was found that matches the request URI '{path}'.")


# --- Service protection (see throttle.py, budget.py) ---------------------------------------------
# Codes and wording of "Service protection API limits" (Microsoft Learn), answered with 429 and
# Retry-After in seconds.
def throttled(limit: int, window, retry_after: int) -> ApiError:
    return ApiError(429, "0x80072322", (
        f"Number of requests exceeded the limit of {limit} over time window of {window} "
        "seconds."), headers={"Retry-After": str(retry_after)})


def too_much_execution_time(limit_ms: int, window, retry_after: int) -> ApiError:
    return ApiError(429, "0x80072321", (
        f"Combined execution time of incoming requests exceeded limit of {limit_ms:,} "
        f"milliseconds over time window of {window} seconds. Decrease number of concurrent "
        "requests or reduce the duration of requests and try again later."),
        headers={"Retry-After": str(retry_after)})


def too_many_concurrent(limit: int, retry_after: int) -> ApiError:
    return ApiError(429, "0x80072326",
                    f"Number of concurrent requests exceeded the limit of {limit}.",
                    headers={"Retry-After": str(retry_after)})


# --- Uniqueness (see unique.py) -----------------------------------------------------------------
# Codes and wording of Dataverse's "Web service error codes" list (Microsoft Learn). Business
# rules of the platform answer 400; the SQL unique indexes (DuplicateRecord) and alternate keys
# (DuplicateRecordEntityKey) answer 412, as the Web API does for a duplicate primary key.
def duplicate_currency() -> ApiError:  # DuplicateIsoCurrencyCode
    return ApiError(400, "0x80048cf3", (
        "Cannot insert duplicate currency record. Currency with the same currency code already "
        "exist in the system."))


def product_number_exists() -> ApiError:  # ProductProductNumberExists
    return ApiError(400, "0x80043b06", (
        "The specified product ID conflicts with the product ID of an existing record. Specify a "
        "different product ID and try again."))


def price_level_name_exists() -> ApiError:  # PriceLevelNameExists
    return ApiError(400, "0x80043b0f", "The name already exists.")


def duplicate_product_price_level() -> ApiError:  # DuplicateProductPriceLevel
    return ApiError(400, "0x80043b08",
                    "This product and unit combination has a price for this price list.")


def user_already_exists() -> ApiError:  # UserAlreadyExists
    return ApiError(400, "0x80041d2c",
                    "The specified Active Directory user already exists as a CRM user.")


def duplicate_key_values(entity, names: tuple[str, ...]) -> ApiError:  # DuplicateRecord
    return ApiError(412, "0x80040237", (
        f"Cannot insert duplicate key. A {entity.logical_name} record with the same "
        f"{', '.join(names)} already exists."))


def entity_key_violated(key_name: str, names: tuple[str, ...]) -> ApiError:
    """DuplicateRecordEntityKey: a declared alternate key's values are taken."""
    return ApiError(412, "0x80060892", (
        f"Entity Key {key_name} violated. A record with the same value for {', '.join(names)} "
        "already exists. A duplicate record cannot be created. Select one or more unique values "
        "and try again."))
