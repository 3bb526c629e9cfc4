"""e-conomic's published limits for the customer-side resources, read from its legacy REST schemas.

Sources (draft-03, `../shared/reference/economic-schemas/`): `customers.customerNo.put` /
`customers.post`, `customer-groups.customergroupnumber.put` / `customer-groups.post` and
`payment-terms.paymentTermsNumber.put` / `payment-terms.post`. Only writable properties are listed:
the same tables tell the engine which fields of a document read back from e-conomic may be sent in
a replace (a barred customer keeps everything else it had). Referenced numbers carry a minimum of 1,
as e-conomic refuses ids of 0.

Each kind's spec carries its table (`EntitySpec.constraints`); the registry hands it to the engine.
"""

from __future__ import annotations

from tasks.sync.validation import FieldRule

CUSTOMER_NUMBER_MAX = 999_999_999

CUSTOMER_RULES = (
    FieldRule("customerNumber", "integer", minimum=1, maximum=CUSTOMER_NUMBER_MAX),
    FieldRule("name", "string", required=True, min_length=1, max_length=255),
    FieldRule("currency", "string", required=True, min_length=3, max_length=3),
    FieldRule("customerGroup", "object", required=True),
    FieldRule("customerGroup.customerGroupNumber", "integer", required=True, minimum=1),
    FieldRule("paymentTerms", "object", required=True),
    FieldRule("paymentTerms.paymentTermsNumber", "integer", required=True, minimum=1),
    FieldRule("vatZone", "object", required=True),
    FieldRule("vatZone.vatZoneNumber", "integer", required=True, minimum=1),
    FieldRule("layout", "object"),
    FieldRule("layout.layoutNumber", "integer", required=True, minimum=1),
    FieldRule("salesPerson", "object"),
    FieldRule("salesPerson.employeeNumber", "integer", required=True, minimum=1),
    FieldRule("attention", "object"),
    FieldRule("attention.customerContactNumber", "integer", required=True, minimum=1),
    FieldRule("customerContact", "object"),
    FieldRule("customerContact.customerContactNumber", "integer", required=True, minimum=1),
    FieldRule("defaultDeliveryLocation", "object"),
    FieldRule("defaultDeliveryLocation.deliveryLocationNumber", "integer", required=True, minimum=1),
    FieldRule("address", "string", max_length=510),
    FieldRule("zip", "string", max_length=30),
    FieldRule("city", "string", max_length=50),
    FieldRule("country", "string", max_length=50),
    FieldRule("email", "string", max_length=255),
    FieldRule("telephoneAndFaxNumber", "string", max_length=255),
    FieldRule("mobilePhone", "string", max_length=50),
    FieldRule("website", "string", max_length=255),
    FieldRule("corporateIdentificationNumber", "string", max_length=40),
    FieldRule("pNumber", "string", min_length=10, max_length=10),
    FieldRule("ean", "string", max_length=13),
    FieldRule("vatNumber", "string", max_length=20),
    FieldRule("publicEntryNumber", "string", max_length=50),
    FieldRule("creditLimit", "number"),
    FieldRule("barred", "boolean"),
)

CUSTOMER_GROUP_RULES = (
    FieldRule("name", "string", max_length=50),
    FieldRule("account", "object", required=True),
    FieldRule("account.accountNumber", "integer", required=True, minimum=1),
    FieldRule("layout", "object"),
    FieldRule("layout.layoutNumber", "integer", required=True, minimum=1),
)
"""PUT body (`customerGroupNumber` is read-only there: the number travels in the address). The
account is required by our own rule: a group e-conomic creates without one cannot be invoiced."""

PAYMENT_TERMS_RULES = (
    FieldRule("name", "string", required=True, min_length=1, max_length=50),
    FieldRule("paymentTermsType", "string", required=True),
    FieldRule("daysOfCredit", "integer", minimum=0),
    FieldRule("description", "string", max_length=1000),
    FieldRule("contraAccountForPrepaidAmount", "object"),
    FieldRule("contraAccountForPrepaidAmount.accountNumber", "integer", required=True, minimum=1),
    FieldRule("contraAccountForRemainderAmount", "object"),
    FieldRule("contraAccountForRemainderAmount.accountNumber", "integer", required=True, minimum=1),
    FieldRule("percentageForPrepaidAmount", "number", max_decimals=2),
    FieldRule("percentageForRemainderAmount", "number", max_decimals=2),
    FieldRule("creditCardCompany", "object"),
    FieldRule(
        "creditCardCompany.customerNumber", "integer", required=True, minimum=1, maximum=CUSTOMER_NUMBER_MAX
    ),
)
