"""The OpenAPI services the legacy API has no writes for, on the same server under their real prefixes:

- ``productsapi/v2.0.0/productgroups`` (ProductGroup ``{id, name, domesticAccountId, objectVersion}``)
- ``suppliersapi/v2.0.0/Groups`` (Group ``{number, name, accountNumber, objectVersion}``)
- ``projectsapi/v1.1.0/Projects``, ``/ProjectGroups``, ``/Employees``
- ``journalsapi/v15.0.0/draft-entries`` (DraftEntry; stored as legacy journal entries); booking a journal
  (``journals/{n}/book``, ``entries/draft/{n}/book``, ``journals/{n}/bookdraftentries``) is routed in
  ``api.py`` to :func:`sandbox.economic.journals.book_journal`. A draft entry dated in a closed accounting
  year is refused (``AccountingYearClosed``, see ``years.py``), and so is a finance-voucher entry (type 5) on
  an account with ``blockDirectEntries`` (``DirectEntriesBlocked``), as the legacy vouchers POST refuses them

Each keeps its data in the same table the legacy GETs read, translated both ways, so a product group created
here appears at ``GET /product-groups``. Lists: cursor (``{items, cursor?}``, at most 1000 per call),
``/paged`` (bare array, ``pageSize`` 1-100, ``skipPages``) and ``/count`` (bare integer). POST answers 201
with the created key; PUT (on the collection, body with the key) needs the current ``objectVersion`` (stale
-> 409 ``UpdateConflict``) and answers 204; DELETE answers 204. Errors are problem+json (§5.2).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.economic import years
from sandbox.economic.errors import ProblemError
from sandbox.economic.filters import FilterError, compile_filter
from sandbox.economic.journals import ENTRIES, ENTRY_TYPE_NUMBERS
from sandbox.economic.references import self_link
from sandbox.economic.seed import employee_record, product_group_record, supplier_group_record
from sandbox.economic.sorting import SortError, parse_sort, sort_records
from sandbox.economic.store import Store, link, now_timestamp

CURSOR_MAX = 1000
PAGED_MAX = 100


@dataclass
class Field:
    kind: str  # integer | number | string | boolean
    required: bool = False
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    read_only: bool = False


@dataclass
class ApiCollection:
    """One OpenAPI collection over a store table; ``to_api``/``from_api`` translate records."""

    prefix: str  # e.g. "productsapi/v2.0.0/productgroups"
    table: str
    key: str  # the API's key property
    fields: dict[str, Field]
    to_api: Callable[[Store, Any, dict[str, Any]], dict[str, Any]]
    from_api: Callable[[Store, dict[str, Any], dict[str, Any] | None], dict[str, Any]]
    check: Callable[[Store, dict[str, Any]], list[dict[str, Any]]] = lambda store, body: []
    assign_key: bool = True
    writable: bool = True
    deletable: bool = True
    webhook: str | None = None
    filterable: dict[str, str] = field(default_factory=dict)
    sortable: dict[str, str] = field(default_factory=dict)
    key_minimum: int = 1

    # ---------------------------------------------------------------------------- reads
    def items(self, store: Store) -> list[dict[str, Any]]:
        return [self.to_api(store, key, record) for key, record in sorted(store.table(self.table).items())]

    def selected(self, store: Store, params: dict[str, str]) -> list[dict[str, Any]]:
        rows = self.items(store)
        if params.get("filter"):
            try:
                predicate = compile_filter(params["filter"], self.filterable)
            except FilterError as exc:
                raise ProblemError(
                    400, "Bad filter request", error_code="BadFilterRequest", detail=str(exc)
                ) from None
            rows = [row for row in rows if predicate(row)]
        return rows

    def cursor_list(self, store: Store, params: dict[str, str]) -> dict[str, Any]:
        rows = self.selected(store, params)
        start = _decode_cursor(params.get("cursor"))
        chunk = rows[start : start + CURSOR_MAX]
        body: dict[str, Any] = {"items": chunk}
        if start + CURSOR_MAX < len(rows):
            body["cursor"] = base64.urlsafe_b64encode(str(start + CURSOR_MAX).encode()).decode()
        return body

    def paged(self, store: Store, params: dict[str, str]) -> list[dict[str, Any]]:
        lowered = {name.lower(): value for name, value in params.items()}
        try:
            size = int(lowered.get("pagesize", 20))
            skip = int(lowered.get("skippages", 0))
        except ValueError:
            size = skip = -1
        if not 1 <= size <= PAGED_MAX or not 0 <= skip <= 100:
            raise ProblemError(
                400,
                "Bad request",
                error_code="BadRequest",
                detail="pageSize must be 1-100 and skipPages 0-100.",
            )
        rows = self.selected(store, params)
        if params.get("sort"):
            try:
                rows = sort_records(rows, parse_sort(params["sort"], self.sortable))
            except SortError as exc:
                raise ProblemError(
                    400, "Bad sort request", error_code="BadSortRequest", detail=str(exc)
                ) from None
        return rows[skip * size : (skip + 1) * size]

    def get_one(self, store: Store, segment: str) -> dict[str, Any]:
        key = self._key(segment)
        record = store.get(self.table, key)
        if record is None:
            raise _missing(self.prefix, key)
        return self.to_api(store, key, record)

    # ---------------------------------------------------------------------------- writes
    def create(self, store: Store, body: Any) -> tuple[Any, dict[str, Any]]:
        data = self._validated(body, creating=True)
        with store.lock:
            problems = self.check(store, data)
            if problems:
                raise _invalid(problems)
            key = data.get(self.key)
            if key is None:
                if not self.assign_key:
                    raise _invalid([_required(self.key)])
                key = store.next_number(self.table, minimum=self.key_minimum)
            elif store.exists(self.table, key):
                raise ProblemError(
                    400,
                    "Validation failed",
                    error_code="DuplicateKey",
                    errors=[
                        {
                            "message": f"{self.key} {key} already exists.",
                            "errorCode": "DuplicateKey",
                            "property": self.key,
                        }
                    ],
                )
            data[self.key] = key
            record = self.from_api(store, data, None)
            store.put(self.table, key, record)
        return key, record

    def replace(self, store: Store, body: Any) -> tuple[Any, dict[str, Any]]:
        data = self._validated(body, creating=False)
        key = data.get(self.key)
        if key is None:
            raise _invalid([_required(self.key)])
        version = data.get("objectVersion")
        if not version:
            raise _invalid([_required("objectVersion")])
        with store.lock:
            existing = store.get(self.table, key)
            if existing is None:
                raise _missing(self.prefix, key)
            if store.meta_of(self.table, key).get("objectVersion") != version:
                raise ProblemError(
                    409,
                    "Update conflict",
                    error_code="UpdateConflict",
                    detail="The objectVersion is stale: the resource was changed by someone else.",
                )
            problems = self.check(store, data)
            if problems:
                raise _invalid(problems)
            record = self.from_api(store, data, existing)
            store.put(self.table, key, record)
        return key, record

    def delete(self, store: Store, segment: str) -> Any:
        key = self._key(segment)
        with store.lock:
            if store.delete(self.table, key) is None:
                raise _missing(self.prefix, key)
        return key

    def _key(self, segment: str) -> int:
        try:
            return int(segment)
        except ValueError:
            raise _missing(self.prefix, segment) from None

    def _validated(self, body: Any, *, creating: bool) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _invalid(
                [{"message": "The body must be a JSON object.", "errorCode": "InvalidBody", "property": ""}]
            )
        problems: list[dict[str, Any]] = []
        data: dict[str, Any] = {}
        for name, spec in self.fields.items():
            value = body.get(name)
            if spec.read_only:
                continue
            if value is None:
                if spec.required and not (creating and name == self.key and self.assign_key):
                    problems.append(_required(name))
                continue
            problem = _check_field(name, value, spec)
            if problem:
                problems.append(problem)
            else:
                data[name] = value
        if "objectVersion" in body and isinstance(body["objectVersion"], str):
            data["objectVersion"] = body["objectVersion"]
        if problems:
            raise _invalid(problems)
        return data


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return max(int(base64.urlsafe_b64decode(cursor.encode()).decode()), 0)
    except (ValueError, UnicodeDecodeError):
        raise ProblemError(
            400, "Bad request", error_code="BadCursor", detail="The cursor is not valid."
        ) from None


def _check_field(name: str, value: Any, spec: Field) -> dict[str, Any] | None:
    kinds = {"integer": (int,), "number": (int, float), "string": (str,), "boolean": (bool,)}[spec.kind]
    if (isinstance(value, bool) and spec.kind != "boolean") or not isinstance(value, kinds):
        return {
            "message": f"'{name}' must be of type {spec.kind}.",
            "errorCode": "InvalidType",
            "property": name,
        }
    if spec.max_length is not None and isinstance(value, str) and len(value) > spec.max_length:
        return {
            "message": f"'{name}' must be at most {spec.max_length} characters.",
            "errorCode": "MaxLength",
            "property": name,
        }
    if spec.minimum is not None and not isinstance(value, str | bool) and value < spec.minimum:
        return {
            "message": f"'{name}' must be at least {spec.minimum:g}.",
            "errorCode": "OutOfRange",
            "property": name,
        }
    if spec.maximum is not None and not isinstance(value, str | bool) and value > spec.maximum:
        return {
            "message": f"'{name}' must be at most {spec.maximum:g}.",
            "errorCode": "OutOfRange",
            "property": name,
        }
    return None


def _required(name: str) -> dict[str, Any]:
    return {"message": f"'{name}' is required.", "errorCode": "Required", "property": name}


def _invalid(problems: list[dict[str, Any]]) -> ProblemError:
    return ProblemError(
        400,
        "Validation failed",
        error_code="ValidationFailed",
        detail="Your request does not pass our validation. Check the errors array.",
        errors=problems,
    )


def _missing(prefix: str, key: Any) -> ProblemError:
    return ProblemError(
        404,
        "Resource not found",
        error_code="ResourceNotFound",
        detail=f"No resource with key {key} at {prefix}.",
    )


def _unknown(store: Store, table: str, value: Any, prop: str, label: str) -> list[dict[str, Any]]:
    if value is None or store.exists(table, value):
        return []
    return [
        {"message": f"{label} {value} does not exist.", "errorCode": "ReferenceNotFound", "property": prop}
    ]


def _version(store: Store, table: str, key: Any) -> str:
    return store.meta_of(table, key).get("objectVersion", "")


# -------------------------------------------------------------------------------------------- product groups


def _product_group_to_api(store: Store, key: Any, record: dict[str, Any]) -> dict[str, Any]:
    meta = store.meta_of("product-groups", key)
    return {
        "id": key,
        "name": record.get("name", ""),
        "domesticAccountId": meta.get("domesticAccountId", 0),
        "objectVersion": meta.get("objectVersion", ""),
    }


def _product_group_from_api(
    store: Store, data: dict[str, Any], existing: dict[str, Any] | None
) -> dict[str, Any]:
    record = dict(existing) if existing else product_group_record(data["id"], data["name"])
    record["name"] = data["name"]
    store.meta_of("product-groups", data["id"])["domesticAccountId"] = data["domesticAccountId"]
    return record


PRODUCT_GROUPS = ApiCollection(
    "productsapi/v2.0.0/productgroups",
    "product-groups",
    "id",
    {
        "id": Field("integer", True, minimum=1, maximum=2147483647),
        "name": Field("string", True, 50),
        "domesticAccountId": Field("integer", True, minimum=1, maximum=2147483647),
    },
    _product_group_to_api,
    _product_group_from_api,
    check=lambda store, data: _unknown(
        store, "accounts", data.get("domesticAccountId"), "domesticAccountId", "Account"
    ),
    assign_key=False,
    filterable={"id": "integer", "name": "string"},
    sortable={"id": "integer", "name": "string"},
)


# -------------------------------------------------------------------------------------------- supplier groups


def _supplier_group_to_api(store: Store, key: Any, record: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": key,
        "name": record.get("name", ""),
        "accountNumber": record.get("account", {}).get("accountNumber", 0),
        "objectVersion": _version(store, "supplier-groups", key),
    }


SUPPLIER_GROUPS = ApiCollection(
    "suppliersapi/v2.0.0/Groups",
    "supplier-groups",
    "number",
    {
        "number": Field("integer", True, minimum=1, maximum=999999999),
        "name": Field("string", True, 50),
        "accountNumber": Field("integer", True, minimum=1, maximum=999999999),
    },
    _supplier_group_to_api,
    lambda store, data, existing: supplier_group_record(data["number"], data["name"], data["accountNumber"]),
    check=lambda store, data: _unknown(
        store, "accounts", data.get("accountNumber"), "accountNumber", "Account"
    ),
    assign_key=False,
    filterable={"number": "integer", "name": "string", "accountNumber": "integer"},
    sortable={"number": "integer", "accountNumber": "integer"},
)


# -------------------------------------------------------------------------------------------- employees


def _employee_to_api(store: Store, key: Any, record: dict[str, Any]) -> dict[str, Any]:
    api: dict[str, Any] = {
        "number": key,
        "groupNumber": record.get("employeeGroup", {}).get("employeeGroupNumber"),
        "name": record.get("name", ""),
        "isBarred": bool(record.get("barred", False)),
    }
    for name in ("phone", "email"):
        if name in record:
            api[name] = record[name]
    api["objectVersion"] = _version(store, "employees", key)
    return api


EMPLOYEES = ApiCollection(
    "projectsapi/v1.1.0/Employees",
    "employees",
    "number",
    {
        "number": Field("integer", True, minimum=0, maximum=999999),
        "groupNumber": Field("integer", True),
        "name": Field("string", True, 100),
        "isBarred": Field("boolean", True),
        "phone": Field("string", max_length=20),
        "email": Field("string", max_length=50),
    },
    _employee_to_api,
    lambda store, data, existing: employee_record(
        data["number"],
        data["name"],
        data["groupNumber"],
        email=data.get("email", ""),
        phone=data.get("phone", ""),
        barred=data.get("isBarred", False),
    ),
    check=lambda store, data: _unknown(
        store, "employee-groups", data.get("groupNumber"), "groupNumber", "Employee group"
    ),
    filterable={"number": "integer", "name": "string", "groupNumber": "integer"},
    sortable={"number": "integer"},
)


# -------------------------------------------------------------------------------------------- projects

_PROJECT_FIELDS: dict[str, Field] = {
    "number": Field("integer", minimum=0, maximum=999999999),
    "name": Field("string", True, 100),
    "projectGroupNumber": Field("integer", True),
    "customerNumber": Field("integer", minimum=1, maximum=999999999),
    "isMainProject": Field("boolean"),
    "mainProjectNumber": Field("integer"),
    "isBarred": Field("boolean"),
    "isMileageInvoiced": Field("boolean"),
    "responsibleEmployeeNumber": Field("integer"),
    "otherResponsibleEmployeeNumber": Field("integer"),
    "status": Field("integer"),
    "description": Field("string", max_length=2500),
    "deliveryDate": Field("string"),
    "departmentNumber": Field("integer"),
    "fixedPrice": Field("number"),
    "otherReference": Field("string", max_length=250),
}


def _project_checks(store: Store, data: dict[str, Any]) -> list[dict[str, Any]]:
    problems = _unknown(
        store, "project-groups", data.get("projectGroupNumber"), "projectGroupNumber", "Project group"
    )
    problems += _unknown(store, "customers", data.get("customerNumber"), "customerNumber", "Customer")
    problems += _unknown(
        store, "employees", data.get("responsibleEmployeeNumber"), "responsibleEmployeeNumber", "Employee"
    )
    group = store.get("project-groups", data.get("projectGroupNumber"))
    if group and group.get("type") in (2, 3) and data.get("customerNumber") is None:
        problems.append(
            {
                "message": "customerNumber is required for a project in an external group.",
                "errorCode": "Required",
                "property": "customerNumber",
            }
        )
    return problems


def _project_to_api(store: Store, key: Any, record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "objectVersion": _version(store, "projects", key)}


def _project_from_api(store: Store, data: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    record = {name: value for name, value in data.items() if name != "objectVersion"}
    record.setdefault("isClosed", False)
    record["lastUpdated"] = now_timestamp()
    return record


PROJECTS = ApiCollection(
    "projectsapi/v1.1.0/Projects",
    "projects",
    "number",
    _PROJECT_FIELDS,
    _project_to_api,
    _project_from_api,
    check=_project_checks,
    webhook="project",
    filterable={
        "number": "integer",
        "name": "string",
        "projectGroupNumber": "integer",
        "customerNumber": "integer",
        "lastUpdated": "string",
    },
    sortable={"number": "integer"},
)
PROJECT_GROUPS = ApiCollection(
    "projectsapi/v1.1.0/ProjectGroups",
    "project-groups",
    "number",
    {
        "number": Field("integer"),
        "name": Field("string", True, 100),
        "type": Field("integer", True, minimum=1, maximum=3),
    },
    lambda store, key, record: {**record, "objectVersion": _version(store, "project-groups", key)},
    lambda store, data, existing: {k: v for k, v in data.items() if k != "objectVersion"},
    deletable=False,
    filterable={"number": "integer", "name": "string"},
    sortable={"number": "integer"},
)


def legacy_project(record: dict[str, Any]) -> dict[str, Any]:
    """A project as the legacy API's references show it (no legacy schema is published; §12.9)."""
    view: dict[str, Any] = {"projectNumber": record["number"], "name": record.get("name", "")}
    if record.get("isBarred"):
        view["barred"] = True
    if record.get("isClosed"):
        view["closed"] = True
    if record.get("customerNumber"):
        view["customer"] = {
            "customerNumber": record["customerNumber"],
            "self": self_link("customers", record["customerNumber"]),
        }
    if record.get("lastUpdated"):
        view["lastUpdated"] = record["lastUpdated"]
    view["self"] = self_link("projects", record["number"])
    return view


# -------------------------------------------------------------------------------------------- draft entries

_TYPE_NAMES = {number: name for name, number in ENTRY_TYPE_NUMBERS.items()}


def _entry_to_api(store: Store, key: Any, record: dict[str, Any]) -> dict[str, Any]:
    entry_type = record.get("entryType")
    api: dict[str, Any] = {
        "entryNumber": key,
        "entryTypeNumber": ENTRY_TYPE_NUMBERS.get(entry_type, 5) if isinstance(entry_type, str) else 5,
        "voucherNumber": record.get("voucher", {}).get("voucherNumber"),
        "journalNumber": record["journal"]["journalNumber"],
        "date": record.get("date"),
        "amount": record.get("amount"),
        "currency": record.get("currency", {}).get("code", "DKK"),
    }
    for api_name, legacy_name, key_name in (
        ("accountNumber", "account", "accountNumber"),
        ("contraAccountNumber", "contraAccount", "accountNumber"),
        ("vatCode", "vatAccount", "vatCode"),
        ("contraVatCode", "contraVatAccount", "vatCode"),
        ("supplierNumber", "supplier", "supplierNumber"),
        ("customerNumber", "customer", "customerNumber"),
    ):
        if legacy_name in record:
            api[api_name] = record[legacy_name][key_name]
    for name in ("text", "supplierInvoiceNumber", "dueDate", "exchangeRate"):
        if name in record:
            api[name] = record[name]
    api["objectVersion"] = _version(store, ENTRIES.path, key)
    return api


def _entry_checks(store: Store, data: dict[str, Any]) -> list[dict[str, Any]]:
    problems = _unknown(store, "journals", data.get("journalNumber"), "journalNumber", "Journal")
    problems += _unknown(store, "accounts", data.get("accountNumber"), "accountNumber", "Account")
    problems += _unknown(store, "accounts", data.get("contraAccountNumber"), "contraAccountNumber", "Account")
    problems += _unknown(store, "suppliers", data.get("supplierNumber"), "supplierNumber", "Supplier")
    problems += _unknown(store, "customers", data.get("customerNumber"), "customerNumber", "Customer")
    problems += _unknown(store, "vat-accounts", data.get("vatCode"), "vatCode", "VAT code")
    problems += _unknown(store, "vat-accounts", data.get("contraVatCode"), "contraVatCode", "VAT code")
    problems += _unknown(store, "currencies", data.get("currency"), "currency", "Currency")
    if data.get("entryTypeNumber") not in _TYPE_NAMES:
        problems.append(
            {
                "message": "entryTypeNumber must be 2, 3, 4, 5 or 10.",
                "errorCode": "InvalidValue",
                "property": "entryTypeNumber",
            }
        )
    if data.get("entryTypeNumber") == ENTRY_TYPE_NUMBERS["financeVoucher"]:
        for prop in ("accountNumber", "contraAccountNumber"):
            account = store.get("accounts", data.get(prop))
            if account is not None and account.get("blockDirectEntries") is True:
                problems.append(
                    {
                        "message": f"Account {data[prop]} does not allow direct entries.",
                        "errorCode": "DirectEntriesBlocked",
                        "property": prop,
                    }
                )
    when = data.get("date")
    closed = years.closed_year(store, when, when[:4] if isinstance(when, str) else None)
    if closed is not None:
        problems.append(years.closed_problem(closed, "date"))
    return problems


def _entry_from_api(store: Store, data: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    journal_number = data["journalNumber"]
    year = data["date"][:4]
    voucher_number = data.get("voucherNumber") or store.next_number(
        "journal-entries", where=lambda r: r["journal"]["journalNumber"] == journal_number
    )
    record: dict[str, Any] = {
        "journalEntryNumber": data["entryNumber"],
        "entryType": _TYPE_NAMES[data["entryTypeNumber"]],
        "amount": data["amount"],
        "date": data["date"],
        "currency": {"code": data["currency"], "self": self_link("currencies", data["currency"])},
    }
    for api_name, legacy_name, key_name, table in (
        ("accountNumber", "account", "accountNumber", "accounts"),
        ("contraAccountNumber", "contraAccount", "accountNumber", "accounts"),
        ("vatCode", "vatAccount", "vatCode", "vat-accounts"),
        ("contraVatCode", "contraVatAccount", "vatCode", "vat-accounts"),
        ("supplierNumber", "supplier", "supplierNumber", "suppliers"),
        ("customerNumber", "customer", "customerNumber", "customers"),
    ):
        if api_name in data:
            record[legacy_name] = {key_name: data[api_name], "self": self_link(table, data[api_name])}
    for name in ("text", "supplierInvoiceNumber", "dueDate", "exchangeRate"):
        if name in data:
            record[name] = data[name]
    record["journal"] = {"journalNumber": journal_number, "self": self_link("journals", journal_number)}
    record["voucher"] = {
        "voucherNumber": voucher_number,
        "accountingYear": {"year": year, "self": self_link("accounting-years", year)},
        "self": link(f"journals/{journal_number}/vouchers/{year}-{voucher_number}"),
    }
    record["self"] = link(f"journals/{journal_number}/entries/{data['entryNumber']}")
    return record


DRAFT_ENTRIES = ApiCollection(
    "journalsapi/v15.0.0/draft-entries",
    ENTRIES.path,
    "entryNumber",
    {
        "entryNumber": Field("integer"),
        "entryTypeNumber": Field("integer", True),
        "voucherNumber": Field("integer", minimum=0, maximum=999999999),
        "journalNumber": Field("integer", True),
        "date": Field("string", True),
        "amount": Field("number", True),
        "currency": Field("string", True, 3),
        "accountNumber": Field("integer"),
        "contraAccountNumber": Field("integer"),
        "vatCode": Field("string"),
        "contraVatCode": Field("string"),
        "text": Field("string"),
        "supplierNumber": Field("integer"),
        "customerNumber": Field("integer"),
        "supplierInvoiceNumber": Field("string"),
        "dueDate": Field("string"),
        "exchangeRate": Field("number"),
    },
    _entry_to_api,
    _entry_from_api,
    check=_entry_checks,
    filterable={
        "entryNumber": "integer",
        "journalNumber": "integer",
        "voucherNumber": "integer",
        "date": "string",
    },
    sortable={"entryNumber": "integer", "journalNumber": "integer", "voucherNumber": "integer"},
)

API_COLLECTIONS: tuple[ApiCollection, ...] = (
    PRODUCT_GROUPS,
    SUPPLIER_GROUPS,
    EMPLOYEES,
    PROJECTS,
    PROJECT_GROUPS,
    DRAFT_ENTRIES,
)
