"""Words and places the generated company is made of: a Danish wholesaler of tools and building supplies
with many Norwegian customers. Brands are invented on purpose (no real trademarks in test data)."""

from __future__ import annotations

from dataclasses import dataclass

DANISH_SURNAMES = (
    "Jensen",
    "Nielsen",
    "Hansen",
    "Pedersen",
    "Andersen",
    "Christensen",
    "Larsen",
    "Sørensen",
    "Rasmussen",
    "Jørgensen",
    "Petersen",
    "Madsen",
    "Kristensen",
    "Olsen",
    "Thomsen",
    "Christiansen",
    "Poulsen",
    "Johansen",
    "Møller",
    "Mortensen",
    "Knudsen",
    "Jakobsen",
    "Lauridsen",
    "Frederiksen",
    "Holm",
    "Vestergaard",
    "Bach",
    "Skov",
    "Dalgaard",
    "Krogh",
    "Lund",
    "Overgaard",
    "Bech",
    "Friis",
    "Mikkelsen",
    "Søndergaard",
)
NORWEGIAN_SURNAMES = (
    "Hansen",
    "Johansen",
    "Olsen",
    "Larsen",
    "Andersen",
    "Pedersen",
    "Nilsen",
    "Kristiansen",
    "Jensen",
    "Karlsen",
    "Johnsen",
    "Pettersen",
    "Eriksen",
    "Berg",
    "Haugen",
    "Hagen",
    "Johannessen",
    "Andreassen",
    "Jacobsen",
    "Dahl",
    "Lie",
    "Halvorsen",
    "Lund",
    "Moen",
    "Solberg",
    "Bakken",
    "Strand",
    "Aas",
    "Fjeld",
    "Sæther",
    "Lunde",
    "Nygård",
    "Myhre",
    "Bråthen",
)
FIRST_NAMES = (
    "Anne",
    "Mette",
    "Lars",
    "Søren",
    "Henrik",
    "Camilla",
    "Jesper",
    "Louise",
    "Morten",
    "Rasmus",
    "Maria",
    "Thomas",
    "Kirsten",
    "Jonas",
    "Ida",
    "Mads",
    "Sofie",
    "Ingrid",
    "Kari",
    "Ole",
    "Bjørn",
    "Silje",
    "Marius",
    "Nora",
    "Erik",
    "Trine",
    "Kasper",
    "Line",
    "Peter",
    "Hanne",
)

# (zip, city) pairs that exist.
DANISH_TOWNS = (
    ("6000", "Kolding"),
    ("8000", "Aarhus C"),
    ("5000", "Odense C"),
    ("9000", "Aalborg"),
    ("2100", "København Ø"),
    ("7100", "Vejle"),
    ("8700", "Horsens"),
    ("6700", "Esbjerg"),
    ("4000", "Roskilde"),
    ("3400", "Hillerød"),
    ("7400", "Herning"),
    ("8600", "Silkeborg"),
    ("4700", "Næstved"),
    ("6400", "Sønderborg"),
    ("8900", "Randers"),
    ("7500", "Holstebro"),
    ("6100", "Haderslev"),
    ("4200", "Slagelse"),
    ("2630", "Taastrup"),
    ("9800", "Hjørring"),
)
NORWEGIAN_TOWNS = (
    ("0150", "Oslo"),
    ("5003", "Bergen"),
    ("7010", "Trondheim"),
    ("4006", "Stavanger"),
    ("3015", "Drammen"),
    ("9008", "Tromsø"),
    ("1606", "Fredrikstad"),
    ("4608", "Kristiansand"),
    ("2317", "Hamar"),
    ("3611", "Kongsberg"),
    ("6002", "Ålesund"),
    ("8006", "Bodø"),
    ("1530", "Moss"),
    ("2815", "Gjøvik"),
)
DANISH_STREETS = (
    "Industrivej",
    "Håndværkervej",
    "Erhvervsvej",
    "Fabriksvej",
    "Smedevej",
    "Tømrervej",
    "Nørregade",
    "Vestergade",
    "Østergade",
    "Søndergade",
    "Stationsvej",
    "Havnegade",
    "Savværksvej",
    "Murervej",
)
NORWEGIAN_STREETS = (
    "Industriveien",
    "Storgata",
    "Sjøgata",
    "Verkstedveien",
    "Næringsveien",
    "Kirkegata",
    "Havnegata",
    "Sagveien",
    "Strandveien",
    "Fabrikkveien",
    "Brugata",
)


@dataclass(frozen=True)
class ForeignMarket:
    """A country outside Denmark and Norway the company sells to."""

    code: str
    country: str
    currency: str
    in_eu: bool
    company_suffix: str
    trade_word: str
    towns: tuple[tuple[str, str], ...]
    street: str
    surnames: tuple[str, ...]
    domain: str


FOREIGN_MARKETS = (
    ForeignMarket(
        "DE",
        "Tyskland",
        "EUR",
        True,
        "GmbH",
        "Bau",
        (("24937", "Flensburg"), ("20095", "Hamburg"), ("24103", "Kiel")),
        "Industriestraße",
        ("Schmidt", "Müller", "Petersen", "Hansen"),
        "de",
    ),
    ForeignMarket(
        "SE",
        "Sverige",
        "SEK",
        True,
        "AB",
        "Bygg",
        (("21120", "Malmö"), ("41101", "Göteborg"), ("25221", "Helsingborg")),
        "Industrigatan",
        ("Lindqvist", "Berg", "Nilsson", "Holm"),
        "se",
    ),
    ForeignMarket(
        "NL",
        "Holland",
        "EUR",
        True,
        "B.V.",
        "Bouw",
        (("3011", "Rotterdam"), ("1012", "Amsterdam")),
        "Industrieweg",
        ("de Vries", "Jansen", "Bakker"),
        "nl",
    ),
    ForeignMarket(
        "FI",
        "Finland",
        "EUR",
        True,
        "Oy",
        "Rakennus",
        (("00100", "Helsinki"), ("20100", "Turku")),
        "Teollisuuskatu",
        ("Virtanen", "Korhonen", "Nieminen"),
        "fi",
    ),
    ForeignMarket(
        "IS",
        "Island",
        "EUR",
        False,
        "ehf.",
        "Byggingar",
        (("101", "Reykjavík"),),
        "Skeifan",
        ("Jónsson", "Sigurðsson", "Guðmundsson"),
        "is",
    ),
    ForeignMarket(
        "FO",
        "Færøerne",
        "DKK",
        False,
        "P/F",
        "Bygg",
        (("100", "Tórshavn"), ("700", "Klaksvík")),
        "Vestara Bryggja",
        ("Joensen", "Hansen", "Jacobsen"),
        "fo",
    ),
    ForeignMarket(
        "GL",
        "Grønland",
        "DKK",
        False,
        "ApS",
        "Byg",
        (("3900", "Nuuk"), ("3911", "Sisimiut")),
        "Industrivej",
        ("Lynge", "Petersen", "Kleist"),
        "gl",
    ),
    ForeignMarket(
        "GB",
        "Storbritannien",
        "GBP",
        False,
        "Ltd",
        "Building Supplies",
        (("NE1 4ST", "Newcastle"), ("AB10 1AB", "Aberdeen")),
        "Harbour Road",
        ("Smith", "Taylor", "Brown"),
        "co.uk",
    ),
)

DANISH_CUSTOMER_PATTERNS = (
    "{surname} Byg ApS",
    "{town} Tømrer & Snedker A/S",
    "{surname} & Søn VVS ApS",
    "Byggecentret {town} A/S",
    "{surname} Entreprise A/S",
    "{surname} El-service ApS",
    "Murermester {surname} ApS",
    "{town} Malerfirma ApS",
    "{surname} Totalentreprise A/S",
    "Tømrerfirmaet {surname} & {surname2} I/S",
    "{town} Boligservice ApS",
)
NORWEGIAN_CUSTOMER_PATTERNS = (
    "{surname} Bygg AS",
    "{town} Trelast AS",
    "{surname} Rør AS",
    "{surname} & Sønn Snekkeri AS",
    "{town} Byggservice AS",
    "Elektro {surname} AS",
    "{surname} Entreprenør AS",
    "Malermester {surname} AS",
    "{town} Tak og Fasade AS",
)
SUPPLIER_PATTERNS_DK = (
    "{surname} Import A/S",
    "Dansk Fastgørelse {town} A/S",
    "{surname} Trælast A/S",
    "Nordisk Maling ApS",
    "{surname} Værktøjsgrossist A/S",
    "{town} Pladecenter ApS",
)
SUPPLIER_PATTERNS_NO = ("{surname} Verktøy AS", "{town} Trevare AS", "{surname} Industri AS")


@dataclass(frozen=True)
class ProductFamily:
    """One kind of article: how its names, units and prices vary."""

    noun: str
    specs: tuple[str, ...]
    variants: tuple[str, ...]
    units: tuple[str, ...]  # unit keys, see reference.UNITS
    cost_range: tuple[float, float]
    branded: bool = False


POWER_TOOL_BRANDS = ("Nordkraft", "Torvik", "Brandt Pro", "Fjeldstad", "Hammerholt", "Vika")
HAND_TOOL_BRANDS = ("Nordkraft", "Smedjen", "Fjeldstad", "Vika", "Grundtvig Tools")

# Product group key -> families. Group keys match reference.PRODUCT_GROUPS.
PRODUCT_FAMILIES: dict[str, tuple[ProductFamily, ...]] = {
    "power_tools": (
        ProductFamily(
            "Boremaskine",
            ("18V", "12V", "230V"),
            ("inkl. 2x5,0 Ah batteri", "solo uden batteri", "i kuffert"),
            ("stk",),
            (450, 2400),
            branded=True,
        ),
        ProductFamily(
            "Slagboremaskine",
            ("18V", "230V 800W", "230V 1100W"),
            ("i kuffert", "solo uden batteri"),
            ("stk",),
            (600, 2800),
            branded=True,
        ),
        ProductFamily(
            "Vinkelsliber",
            ("125 mm", "115 mm", "230 mm"),
            ("18V solo", "230V 1200W", "230V 2200W"),
            ("stk",),
            (400, 1900),
            branded=True,
        ),
        ProductFamily(
            "Rundsav",
            ("165 mm", "190 mm", "235 mm"),
            ("18V solo", "230V"),
            ("stk",),
            (800, 3200),
            branded=True,
        ),
        ProductFamily(
            "Multicutter",
            ("18V", "12V"),
            ("solo uden batteri", "inkl. tilbehørssæt"),
            ("stk",),
            (500, 1800),
            branded=True,
        ),
        ProductFamily(
            "Slagskruetrækker",
            ('18V 1/4"', '12V 1/4"'),
            ("solo uden batteri", "inkl. 2 batterier"),
            ("stk",),
            (550, 2100),
            branded=True,
        ),
        ProductFamily(
            "Batteri", ("18V 5,0 Ah", "18V 8,0 Ah", "12V 3,0 Ah"), ("",), ("stk",), (300, 1100), branded=True
        ),
    ),
    "hand_tools": (
        ProductFamily(
            "Kløfthammer",
            ("450 g", "600 g", "800 g"),
            ("glasfiberskaft", "stålskaft"),
            ("stk",),
            (80, 320),
            branded=True,
        ),
        ProductFamily(
            "Vaterpas",
            ("40 cm", "60 cm", "100 cm", "180 cm"),
            ("alu", "med magnet"),
            ("stk",),
            (60, 450),
            branded=True,
        ),
        ProductFamily(
            "Målebånd", ("3 m", "5 m", "8 m", "10 m"), ("19 mm", "25 mm"), ("stk",), (30, 180), branded=True
        ),
        ProductFamily(
            "Fukssvans",
            ("475 mm", "550 mm"),
            ("7 tænder/tomme", "11 tænder/tomme"),
            ("stk",),
            (60, 220),
            branded=True,
        ),
        ProductFamily(
            "Bitssæt",
            ("32 dele", "48 dele", "100 dele"),
            ("PH/PZ/TX", "i kassette"),
            ("sæt",),
            (70, 420),
            branded=True,
        ),
        ProductFamily(
            "Fugepistol", ("310 ml", "600 ml pølse"), ("skeletpistol", "lukket"), ("stk",), (40, 260)
        ),
        ProductFamily(
            "Hobbykniv", ("18 mm", "25 mm"), ("med knækblade", "med låsefunktion"), ("stk",), (15, 90)
        ),
    ),
    "fasteners": (
        ProductFamily(
            "Træskrue",
            ("4x40 mm", "4,5x50 mm", "5x60 mm", "5x80 mm", "6x100 mm"),
            ("forzinket", "rustfri A2", "elforzinket"),
            ("pk",),
            (35, 260),
        ),
        ProductFamily(
            "Gipsskrue",
            ("3,5x25 mm", "3,5x35 mm", "3,9x45 mm"),
            ("fosfateret", "forzinket"),
            ("pk",),
            (25, 140),
        ),
        ProductFamily("Terrasseskrue", ("4,5x50 mm", "5x60 mm"), ("rustfri A4", "brun"), ("pk",), (90, 480)),
        ProductFamily(
            "Bræddebolt",
            ("M8x100", "M10x120", "M12x160"),
            ("varmforzinket", "elforzinket"),
            ("pk",),
            (60, 300),
        ),
        ProductFamily(
            "Vinkelbeslag",
            ("70x70x55 mm", "90x90x65 mm", "105x105x90 mm"),
            ("forzinket",),
            ("stk", "pk"),
            (4, 60),
        ),
        ProductFamily("Hulbånd", ("20x1 mm", "40x1,5 mm"), ("forzinket, 10 m",), ("rulle",), (40, 160)),
        ProductFamily("Dyvel", ("6 mm", "8 mm", "10 mm"), ("nylon", "universal"), ("pk",), (20, 110)),
    ),
    "boards": (
        ProductFamily(
            "Gipsplade",
            ("12,5x900x2400 mm", "12,5x1200x2500 mm", "15x900x2700 mm"),
            ("standard", "brandhæmmende", "vådrum"),
            ("stk",),
            (32, 140),
        ),
        ProductFamily(
            "Krydsfiner",
            ("12x1220x2440 mm", "18x1220x2440 mm"),
            ("birk", "fyr, filmbelagt"),
            ("stk",),
            (180, 620),
        ),
        ProductFamily(
            "OSB-plade",
            ("12x1220x2440 mm", "18x1250x2500 mm", "22x600x2400 mm"),
            ("OSB/3", "OSB/3 not og fer"),
            ("stk",),
            (110, 330),
        ),
        ProductFamily("Fibergipsplade", ("12,5x1200x2600 mm",), ("standard", "gulv"), ("stk",), (120, 280)),
    ),
    "timber": (
        ProductFamily(
            "Konstruktionstræ C24",
            ("45x95 mm", "45x120 mm", "45x195 mm"),
            ("3,6 m", "4,8 m", "5,4 m"),
            ("stk", "m"),
            (18, 220),
        ),
        ProductFamily(
            "Trykimprægneret lægte", ("25x50 mm", "38x73 mm"), ("4,2 m", "5,1 m"), ("stk", "m"), (12, 60)
        ),
        ProductFamily(
            "Terrassebræt",
            ("28x120 mm", "28x145 mm"),
            ("trykimprægneret", "lærk", "hårdttræ"),
            ("m",),
            (18, 95),
        ),
        ProductFamily(
            "Fodliste", ("12x58 mm", "15x70 mm"), ("hvidmalet", "eg, lakeret"), ("stk",), (25, 140)
        ),
    ),
    "paint": (
        ProductFamily(
            "Vægmaling glans 5",
            ("2,7 l", "5 l", "10 l"),
            ("hvid", "RAL 9010", "brækket hvid"),
            ("stk",),
            (90, 620),
        ),
        ProductFamily("Loftmaling glans 2", ("2,7 l", "10 l"), ("hvid",), ("stk",), (80, 480)),
        ProductFamily(
            "Træbeskyttelse", ("2,5 l", "5 l"), ("sort", "antracit", "teak", "grøn"), ("stk",), (120, 520)
        ),
        ProductFamily("Akrylfuge", ("300 ml",), ("hvid", "grå", "sort"), ("stk",), (18, 55)),
        ProductFamily("Sanitetssilikone", ("300 ml",), ("transparent", "hvid", "grå"), ("stk",), (28, 75)),
    ),
    "safety": (
        ProductFamily(
            "Sikkerhedssko S3",
            ("str. 40", "str. 42", "str. 44", "str. 46"),
            ("lav", "høj"),
            ("par",),
            (320, 850),
            branded=True,
        ),
        ProductFamily(
            "Arbejdshandske",
            ("str. 8 (M)", "str. 9 (L)", "str. 10 (XL)"),
            ("nitril", "vinter", "læder"),
            ("par",),
            (12, 90),
        ),
        ProductFamily(
            "Høreværn", ("SNR 30 dB", "SNR 35 dB"), ("med hjelmbeslag", "med bøjle"), ("stk",), (80, 420)
        ),
        ProductFamily("Støvmaske FFP2", ("",), ("20 stk", "uden ventil, 10 stk"), ("pk",), (45, 190)),
        ProductFamily("Sikkerhedsbriller", ("klar", "tonet"), ("anti-dug",), ("stk",), (25, 160)),
    ),
    "plumbing": (
        ProductFamily("Kobberrør", ("15 mm", "18 mm", "22 mm"), ("5 m",), ("stk", "m"), (60, 420)),
        ProductFamily("PEX-rør", ("16 mm", "20 mm"), ("i rør-i-rør, 50 m", "25 m"), ("rulle",), (260, 1300)),
        ProductFamily("Kuglehane", ('1/2"', '3/4"', '1"'), ("messing, med greb",), ("stk",), (40, 260)),
        ProductFamily("Pressfitting albue", ("15 mm", "22 mm", "28 mm"), ("90°", "45°"), ("stk",), (12, 80)),
        ProductFamily("Afløbsrør PP", ("Ø75", "Ø110"), ("1 m", "2 m", "3 m"), ("stk",), (35, 190)),
    ),
    "electrical": (
        ProductFamily(
            "Installationskabel PKJ",
            ("3G1,5 mm²", "3G2,5 mm²", "5G2,5 mm²"),
            ("50 m", "100 m"),
            ("rulle", "m"),
            (240, 2100),
        ),
        ProductFamily(
            "Stikkontakt", ("1-fag", "2-fag"), ("hvid, med jord", "antracit, med jord"), ("stk",), (35, 160)
        ),
        ProductFamily(
            "LED-pære", ("E27 806 lm", "GU10 345 lm", "E14 470 lm"), ("2700K", "4000K"), ("stk",), (15, 70)
        ),
        ProductFamily(
            "Forlængerledning", ("5 m", "10 m", "25 m"), ("3-vejs", "på tromle"), ("stk",), (60, 520)
        ),
        ProductFamily(
            "Kabelbinder",
            ("200x4,8 mm", "300x4,8 mm"),
            ("sort, 100 stk", "natur, 100 stk"),
            ("pk",),
            (15, 60),
        ),
    ),
}

KIT_NAMES = (
    ("Startsæt tømrer", ("power_tools", "hand_tools", "fasteners")),
    ("Terrassepakke", ("timber", "fasteners")),
    ("Badeværelsespakke", ("boards", "paint", "plumbing")),
    ("Sikkerhedspakke", ("safety",)),
    ("El-installationssæt", ("electrical",)),
    ("Gipsvægspakke", ("boards", "fasteners", "paint")),
    ("Værkstedssæt", ("power_tools", "hand_tools")),
)

PROJECT_NAMES = (
    "Nybyg rækkehuse",
    "Renovering skole",
    "Tilbygning børnehave",
    "Altanprojekt",
    "Tagudskiftning",
    "Etageboliger",
    "Ombygning kontor",
    "Hytteprojekt",
    "Sportshal",
    "Lagerhal",
)

ORDER_HEADINGS = ("Ordre", "Levering til byggeplads", "Afhentning", "Lagerordre", "Restordre", "Bestilling")
