"""The fixed reference data of the generated company: the same for every seed and size, as in a real
e-conomic agreement that was set up once (chart of accounts, VAT zones, payment terms, groups, staff)."""

from __future__ import annotations

from datetime import date

from sandbox.seed.model import (
    Account,
    AccountingYear,
    Currency,
    Employee,
    Group,
    Journal,
    Layout,
    Location,
    PaymentTerm,
    ProductGroup,
    ProjectGroup,
    Unit,
    VatAccount,
    VatZone,
)

COMPANY_NAME = "Nordvik Værktøj & Byggevarer A/S"
COMPANY_CVR = "29876547"
COMPANY_DOMAIN = "nordvik-byg.dk"
BASE_CURRENCY = "DKK"

CURRENCIES = (
    Currency("DKK", "Danske kroner", "208", 100.0),
    Currency("NOK", "Norske kroner", "578", 64.85),
    Currency("EUR", "Euro", "978", 746.12),
    Currency("SEK", "Svenske kroner", "752", 66.37),
    Currency("GBP", "Britiske pund", "826", 871.40),
)
CURRENCY_BY_CODE = {c.code: c for c in CURRENCIES}

VAT_ZONES = (
    VatZone(1, "domestic", "Indenlandsk", 25.0, True, True),
    VatZone(2, "eu", "EU", 0.0, True, True),
    VatZone(3, "abroad", "Udland", 0.0, True, True),
    VatZone(4, "domestic_exempt", "Indenlandsk momsfri", 0.0, True, False),
)
VAT_ZONE_BY_KEY = {z.key: z for z in VAT_ZONES}
VAT_ZONE_BY_NUMBER = {z.number: z for z in VAT_ZONES}

PAYMENT_TERMS = (
    PaymentTerm(1, "Netto 8 dage", "net", 8, "Betaling senest 8 dage efter fakturadato"),
    PaymentTerm(2, "Netto 14 dage", "net", 14, "Betaling senest 14 dage efter fakturadato"),
    PaymentTerm(3, "Netto 30 dage", "net", 30, "Betaling senest 30 dage efter fakturadato"),
    PaymentTerm(
        4, "Løbende måned + 30 dage", "invoiceMonth", 30, "Betaling 30 dage efter udgangen af fakturamåneden"
    ),
    PaymentTerm(5, "Kontant", "paidInCash", 0, "Betales kontant ved levering"),
    PaymentTerm(6, "Forudbetaling", "prepaid", 0, "Betales før levering"),
    PaymentTerm(7, "Netto 10 dager", "net", 10, "Betaling innen 10 dager (Norge)"),
    PaymentTerm(8, "Netto 60 dage", "net", 60, "Aftalt med kæder og offentlige kunder"),
)
PAYMENT_TERM_BY_NUMBER = {t.number: t for t in PAYMENT_TERMS}

LAYOUTS = (
    Layout(19, "Standard faktura"),
    Layout(20, "Faktura med logo"),
    Layout(21, "Norsk faktura"),
    Layout(22, "English invoice"),
)

UNITS = (
    Unit(1, "stk", "stk."),
    Unit(2, "pk", "pakke"),
    Unit(3, "m", "meter"),
    Unit(4, "m2", "m²"),
    Unit(5, "l", "liter"),
    Unit(6, "kg", "kg"),
    Unit(7, "par", "par"),
    Unit(8, "rulle", "rulle"),
    Unit(9, "sæt", "sæt"),
)
UNIT_BY_KEY = {u.key: u for u in UNITS}
UNIT_BY_NUMBER = {u.number: u for u in UNITS}

ACCOUNTS = (
    Account(1010, "Salg af varer, Danmark", "profitAndLoss", "credit", "U25"),
    Account(1020, "Salg af varer, EU", "profitAndLoss", "credit"),
    Account(1030, "Salg af varer, udland", "profitAndLoss", "credit"),
    Account(1050, "Salg af fragt og gebyrer", "profitAndLoss", "credit", "U25"),
    Account(1310, "Vareforbrug", "profitAndLoss", "debit", "I25"),
    Account(1320, "Varekøb EU", "profitAndLoss", "debit"),
    Account(1330, "Varekøb udland", "profitAndLoss", "debit"),
    Account(1360, "Lagerregulering", "profitAndLoss", "debit"),
    Account(5600, "Debitorer Danmark", "status", "debit"),
    Account(5610, "Debitorer Norge", "status", "debit"),
    Account(5620, "Debitorer EU og udland", "status", "debit"),
    Account(5500, "Varelager", "status", "debit"),
    Account(5820, "Bank", "status", "debit"),
    Account(6800, "Kreditorer", "status", "credit"),
    Account(6810, "Kreditorer udland", "status", "credit"),
    Account(6900, "Salgsmoms", "status", "credit"),
    Account(6910, "Købsmoms", "status", "debit"),
)

VAT_ACCOUNTS = (
    VatAccount("U25", "Salgsmoms 25%", 25.0, 6900, 1),
    VatAccount("I25", "Købsmoms 25%", 25.0, 6910, 2),
    VatAccount("IEUV", "Købsmoms varekøb EU", 25.0, 6910, 2),
)

CUSTOMER_GROUPS = (
    Group(1, "Danske kunder", 5600),
    Group(2, "Norske kunder", 5610),
    Group(3, "EU-kunder", 5620),
    Group(4, "Øvrige udland", 5620),
    Group(5, "Byggemarkeder og kæder", 5600),
)
SUPPLIER_GROUPS = (
    Group(1, "Danske leverandører", 6800),
    Group(2, "Udenlandske leverandører", 6810),
    Group(3, "Fragt og diverse", 6800),
)

PRODUCT_GROUPS = (
    ProductGroup(1, "power_tools", "El-værktøj", True, 1010),
    ProductGroup(2, "hand_tools", "Håndværktøj", True, 1010),
    ProductGroup(3, "fasteners", "Skruer og beslag", True, 1010),
    ProductGroup(4, "boards", "Byggeplader", True, 1010),
    ProductGroup(5, "timber", "Træ og lister", True, 1010),
    ProductGroup(6, "paint", "Maling og fuge", True, 1010),
    ProductGroup(7, "safety", "Sikkerhed og arbejdstøj", True, 1010),
    ProductGroup(8, "plumbing", "VVS", True, 1010),
    ProductGroup(9, "electrical", "El-artikler", True, 1010),
    ProductGroup(10, "kits", "Sæt og styklister", True, 1010),
    ProductGroup(11, "services", "Fragt og gebyrer", False, 1050),
)
PRODUCT_GROUP_BY_KEY = {g.key: g for g in PRODUCT_GROUPS}
# The groups ordinary products come from (kits hold the lots; services hold no generated products).
CATALOGUE_GROUPS = PRODUCT_GROUPS[:9]
KIT_GROUP = PRODUCT_GROUP_BY_KEY["kits"]

LOCATIONS = (
    Location(1, "Hovedlager Kolding", "LOC-0001", None, True),
    Location(2, "Reol A", "LOC-0002", 1, False),
    Location(3, "Reol B", "LOC-0003", 1, False),
    Location(4, "Pladelager", "LOC-0004", 1, False),
    Location(5, "Lager Oslo", "LOC-0005", None, False),
    Location(6, "Butik Vejle", "LOC-0006", None, False),
)
STOCK_LOCATIONS = (2, 3, 4, 5, 6)

EMPLOYEES = (
    Employee(1, "Mette Kjær", "MK", "mk@" + COMPANY_DOMAIN, "+45 75 50 12 01", "Administrerende direktør", 1),
    Employee(2, "Søren Bech", "SB", "sb@" + COMPANY_DOMAIN, "+45 75 50 12 02", "Salgschef", 1),
    Employee(3, "Ingrid Solberg", "IS", "is@" + COMPANY_DOMAIN, "+47 22 41 80 10", "Key account Norge", 5),
    Employee(4, "Jonas Lund", "JL", "jl@" + COMPANY_DOMAIN, "+45 75 50 12 04", "Sælger", 1),
    Employee(5, "Camilla Friis", "CF", "cf@" + COMPANY_DOMAIN, "+45 75 50 12 05", "Indkøber", 1),
    Employee(6, "Kasper Holm", "KH", "kh@" + COMPANY_DOMAIN, "+45 75 50 12 06", "Lagerchef", 1),
    Employee(7, "Trine Dalgaard", "TD", "td@" + COMPANY_DOMAIN, "+45 75 50 12 07", "Bogholder", 1),
    Employee(8, "Marius Haugen", "MH", "mh@" + COMPANY_DOMAIN, "+47 22 41 80 11", "Lagermedarbeider", 5),
)
SALES_EMPLOYEES = (2, 3, 4)

JOURNALS = (
    Journal(1, "Kassekladde", None),
    Journal(2, "Rackbeat leverandørfakturaer", "supplierInvoice"),
    Journal(3, "Rackbeat lagerværdi", "financeVoucher"),
)

ACCOUNTING_YEARS = (
    AccountingYear("2025", date(2025, 1, 1), date(2025, 12, 31), False),
    AccountingYear("2026", date(2026, 1, 1), date(2026, 12, 31), False),
)

PROJECT_GROUPS = (
    ProjectGroup(1, "Interne projekter", 1),
    ProjectGroup(2, "Kundeprojekter", 2),
)
