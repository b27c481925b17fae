//! Reference data: currencies, countries, the product range, names, cities, merchants and
//! the free texts the extracts use. Some values carry commas, quotes and non-ASCII letters on
//! purpose, to exercise CSV quoting and UTF-8 handling.

/// A currency (ISO 4217) of the extracts; EUR is the reporting currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Ccy {
    Eur,
    Usd,
    Gbp,
    Chf,
    Czk,
    Pln,
    Sek,
}

impl Ccy {
    /// Every currency but EUR: the ones `fx_rates` covers.
    pub(crate) const FOREIGN: [Ccy; 6] = [
        Self::Usd,
        Self::Gbp,
        Self::Chf,
        Self::Czk,
        Self::Pln,
        Self::Sek,
    ];

    pub(crate) fn code(self) -> &'static str {
        match self {
            Self::Eur => "EUR",
            Self::Usd => "USD",
            Self::Gbp => "GBP",
            Self::Chf => "CHF",
            Self::Czk => "CZK",
            Self::Pln => "PLN",
            Self::Sek => "SEK",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// Units per EUR on the first day of the FX history, and the daily volatility.
    pub(crate) fn start_rate(self) -> (f64, f64) {
        match self {
            Self::Eur => (1.0, 0.0),
            Self::Usd => (1.0850, 0.0045),
            Self::Gbp => (0.8550, 0.0035),
            Self::Chf => (0.9500, 0.0035),
            Self::Czk => (25.150, 0.0025),
            Self::Pln => (4.3200, 0.0035),
            Self::Sek => (11.450, 0.0045),
        }
    }
}

/// A country (ISO 3166-1 alpha-2) of clients, counterparties or card use abroad.
#[derive(Debug)]
pub(crate) struct Country {
    pub code: &'static str,
    pub currency: Ccy,
    pub phone: &'static str,
    pub cities: &'static [&'static str],
    /// Weight as a client's home country (the bank is German).
    pub home_weight: u32,
    /// Weight as the country of a counterparty IBAN (0: no IBAN there).
    pub counterparty_weight: u32,
}

/// The countries; their index is the bit of an account's "countries used" mask.
pub(crate) const COUNTRIES: &[Country] = &[
    Country {
        code: "DE",
        currency: Ccy::Eur,
        phone: "+49",
        cities: &[
            "Berlin",
            "Hamburg",
            "München",
            "Köln",
            "Frankfurt am Main",
            "Stuttgart",
            "Düsseldorf",
            "Leipzig",
            "Dresden",
            "Nürnberg",
            "Hannover",
            "Bremen",
            "Halle (Saale)",
            "Freiburg im Breisgau",
            "Münster",
        ],
        home_weight: 880,
        counterparty_weight: 60,
    },
    Country {
        code: "AT",
        currency: Ccy::Eur,
        phone: "+43",
        cities: &["Wien", "Graz", "Linz", "Salzburg", "Innsbruck"],
        home_weight: 30,
        counterparty_weight: 6,
    },
    Country {
        code: "CZ",
        currency: Ccy::Czk,
        phone: "+420",
        cities: &[
            "Praha",
            "Brno",
            "Ostrava",
            "Plzeň",
            "České Budějovice",
            "Olomouc",
        ],
        home_weight: 40,
        counterparty_weight: 5,
    },
    Country {
        code: "FR",
        currency: Ccy::Eur,
        phone: "+33",
        cities: &["Paris", "Lyon", "Marseille", "Toulouse", "Strasbourg"],
        home_weight: 15,
        counterparty_weight: 8,
    },
    Country {
        code: "NL",
        currency: Ccy::Eur,
        phone: "+31",
        cities: &["Amsterdam", "Rotterdam", "Utrecht", "Den Haag"],
        home_weight: 10,
        counterparty_weight: 6,
    },
    Country {
        code: "BE",
        currency: Ccy::Eur,
        phone: "+32",
        cities: &["Bruxelles", "Antwerpen", "Gent", "Liège"],
        home_weight: 8,
        counterparty_weight: 5,
    },
    Country {
        code: "PL",
        currency: Ccy::Pln,
        phone: "+48",
        cities: &["Warszawa", "Kraków", "Wrocław", "Gdańsk", "Łódź"],
        home_weight: 6,
        counterparty_weight: 3,
    },
    Country {
        code: "GB",
        currency: Ccy::Gbp,
        phone: "+44",
        cities: &["London", "Manchester", "Edinburgh"],
        home_weight: 4,
        counterparty_weight: 2,
    },
    Country {
        code: "CH",
        currency: Ccy::Chf,
        phone: "+41",
        cities: &["Zürich", "Genève", "Basel"],
        home_weight: 3,
        counterparty_weight: 2,
    },
    Country {
        code: "ES",
        currency: Ccy::Eur,
        phone: "+34",
        cities: &["Madrid", "Barcelona", "Valencia"],
        home_weight: 2,
        counterparty_weight: 3,
    },
    Country {
        code: "IT",
        currency: Ccy::Eur,
        phone: "+39",
        cities: &["Roma", "Milano", "Napoli"],
        home_weight: 1,
        counterparty_weight: 2,
    },
    Country {
        code: "US",
        currency: Ccy::Usd,
        phone: "+1",
        cities: &["New York", "Chicago"],
        home_weight: 1,
        counterparty_weight: 0,
    },
    Country {
        code: "SE",
        currency: Ccy::Sek,
        phone: "+46",
        cities: &["Stockholm", "Göteborg"],
        home_weight: 0,
        counterparty_weight: 1,
    },
    Country {
        code: "PT",
        currency: Ccy::Eur,
        phone: "+351",
        cities: &["Lisboa", "Porto"],
        home_weight: 0,
        counterparty_weight: 1,
    },
    Country {
        code: "GR",
        currency: Ccy::Eur,
        phone: "+30",
        cities: &["Athína", "Thessaloníki"],
        home_weight: 0,
        counterparty_weight: 1,
    },
    Country {
        code: "HR",
        currency: Ccy::Eur,
        phone: "+385",
        cities: &["Zagreb", "Split"],
        home_weight: 0,
        counterparty_weight: 1,
    },
];

/// Index of the Czech Republic (CZK current accounts).
pub(crate) const CZ: u8 = 2;

/// This bank's German bank code (BLZ) in its own IBANs.
pub(crate) const BANK_CODE: &str = "50040000";

/// A product category of the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Category {
    CurrentAccount,
    Savings,
    CreditCard,
    PersonalLoan,
    Mortgage,
    Insurance,
    Investment,
}

impl Category {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Self::CurrentAccount => "current_account",
            Self::Savings => "savings",
            Self::CreditCard => "credit_card",
            Self::PersonalLoan => "personal_loan",
            Self::Mortgage => "mortgage",
            Self::Insurance => "insurance",
            Self::Investment => "investment",
        }
    }
}

/// A product of the range.
#[derive(Debug)]
pub(crate) struct Product {
    pub id: &'static str,
    pub name: &'static str,
    pub category: Category,
    pub fee_cents: i64,
    /// Annual rate in units of 0.0001.
    pub rate: Option<i64>,
    pub currency: Ccy,
    pub active: bool,
}

const fn product(
    id: &'static str,
    name: &'static str,
    category: Category,
    fee_cents: i64,
    rate: Option<i64>,
    active: bool,
) -> Product {
    Product {
        id,
        name,
        category,
        fee_cents,
        rate,
        currency: Ccy::Eur,
        active,
    }
}

/// The twelve products, covering every category.
pub(crate) const PRODUCTS: &[Product] = &[
    product(
        "PR001",
        "Giro Basic",
        Category::CurrentAccount,
        290,
        None,
        true,
    ),
    product(
        "PR002",
        "Giro Premium",
        Category::CurrentAccount,
        990,
        None,
        true,
    ),
    product(
        "PR003",
        "Business Account",
        Category::CurrentAccount,
        1490,
        None,
        true,
    ),
    product(
        "PR004",
        "Foreign Currency Account",
        Category::CurrentAccount,
        490,
        None,
        true,
    ),
    product(
        "PR005",
        "Savings Plus",
        Category::Savings,
        0,
        Some(275),
        true,
    ),
    product(
        "PR006",
        "Savings, Legacy",
        Category::Savings,
        0,
        Some(50),
        false,
    ),
    product(
        "PR007",
        "Classic Credit Card",
        Category::CreditCard,
        250,
        Some(1890),
        true,
    ),
    product(
        "PR008",
        "Gold \"Plus\" Card",
        Category::CreditCard,
        800,
        Some(1690),
        true,
    ),
    product(
        "PR009",
        "Personal Loan",
        Category::PersonalLoan,
        0,
        Some(690),
        true,
    ),
    product(
        "PR010",
        "Mortgage Fixed",
        Category::Mortgage,
        0,
        Some(385),
        true,
    ),
    product(
        "PR011",
        "Home & Contents Insurance",
        Category::Insurance,
        650,
        None,
        true,
    ),
    product(
        "PR012",
        "Investment Portfolio",
        Category::Investment,
        500,
        None,
        true,
    ),
];

/// Indices into [`PRODUCTS`].
pub(crate) mod product {
    pub(crate) const GIRO_BASIC: u8 = 0;
    pub(crate) const GIRO_PREMIUM: u8 = 1;
    pub(crate) const BUSINESS: u8 = 2;
    pub(crate) const FOREIGN_CURRENCY: u8 = 3;
    pub(crate) const SAVINGS: u8 = 4;
    pub(crate) const SAVINGS_LEGACY: u8 = 5;
    pub(crate) const CARD_CLASSIC: u8 = 6;
    pub(crate) const CARD_GOLD: u8 = 7;
    pub(crate) const PERSONAL_LOAN: u8 = 8;
    pub(crate) const MORTGAGE: u8 = 9;
    pub(crate) const INSURANCE: u8 = 10;
    pub(crate) const INVESTMENT: u8 = 11;
}

pub(crate) const FEMALE_NAMES: &[&str] = &[
    "Anna",
    "Maria",
    "Sophie",
    "Lena",
    "Zoë",
    "Renée",
    "Jana",
    "Eliška",
    "Małgorzata",
    "Claire",
    "Emma",
    "Laura",
    "Julia",
    "Sarah",
    "Ingrid",
    "Chloé",
    "Lucía",
    "Hannah",
    "Katharina",
    "Petra",
];

pub(crate) const MALE_NAMES: &[&str] = &[
    "Lukas",
    "Jonas",
    "Jürgen",
    "Thomas",
    "Michael",
    "Ondřej",
    "Jakub",
    "Łukasz",
    "José",
    "Pierre",
    "Jan",
    "Peter",
    "Stefan",
    "Andreas",
    "Markus",
    "Florian",
    "Sebastian",
    "Tomáš",
    "Mehmet",
    "Liam",
];

pub(crate) const LAST_NAMES: &[&str] = &[
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Schäfer",
    "Koch",
    "Bauer",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Dvořák",
    "Novák",
    "Svoboda",
    "Kowalski",
    "Nowak",
    "Dubois",
    "Martin",
    "Janssen",
    "Peeters",
    "O'Brien",
    "García",
    "Rossi",
    "Smith",
    "Nguyễn",
    "Yılmaz",
    "Öztürk",
    "Lefèvre",
    "van den Berg",
    "Łuczak",
];

pub(crate) const EMAIL_DOMAINS: &[&str] = &["example.com", "example.org", "example.net"];

/// A merchant of card payments (and creditor of direct debits, without a code).
#[derive(Debug)]
pub(crate) struct Merchant {
    pub name: &'static str,
    pub mcc: &'static str,
}

const fn merchant(name: &'static str, mcc: &'static str) -> Merchant {
    Merchant { name, mcc }
}

pub(crate) const DOMESTIC_MERCHANTS: &[Merchant] = &[
    merchant("REWE Markt GmbH", "5411"),
    merchant("EDEKA Center", "5411"),
    merchant("ALDI SÜD", "5411"),
    merchant("Lidl Dienstleistung", "5411"),
    merchant("dm-drogerie markt", "5912"),
    merchant("Apotheke am Markt", "5912"),
    merchant("Shell Station 0451", "5541"),
    merchant("Aral Tankstelle", "5541"),
    merchant("DB Fernverkehr AG", "4111"),
    merchant("BVG Berlin", "4111"),
    merchant("MediaMarkt", "5732"),
    merchant("Saturn, Alexanderplatz", "5732"),
    merchant("IKEA Deutschland", "5712"),
    merchant("H&M", "5651"),
    merchant("Zalando SE", "5651"),
    merchant("Müller's Bäckerei, Filiale 3", "5462"),
    merchant("Café \"Central\"", "5814"),
    merchant("\"Zum Goldenen Hirsch\" Gasthaus", "5812"),
    merchant("Smith, Jones & Co.", "5999"),
    merchant("McDonald's", "5814"),
    merchant("Thalia Bücher", "5942"),
    merchant("Decathlon", "5941"),
    merchant("Uber *Trip", "4121"),
];

pub(crate) const ONLINE_MERCHANTS: &[Merchant] = &[
    merchant("Amazon EU S.a r.l.", "5999"),
    merchant("Spotify AB", "5815"),
    merchant("Netflix.com", "5815"),
    merchant("Steam Purchase", "5816"),
    merchant("Google *Play", "5818"),
    merchant("Apple.com/bill", "5818"),
];

pub(crate) const TRAVEL_MERCHANTS: &[Merchant] = &[
    merchant("Booking.com", "4722"),
    merchant("Hilton, London Paddington", "7011"),
    merchant("Marks & Spencer", "5311"),
    merchant("Tesco Stores", "5411"),
    merchant("Shake Shack", "5814"),
    merchant("Starbucks", "5814"),
    merchant("Coop Pronto", "5411"),
    merchant("Albert Supermarket", "5411"),
    merchant("Biedronka", "5411"),
    merchant("El Corte Inglés", "5311"),
    merchant("Trattoria \"Da Mario\"", "5812"),
    merchant("Duty Free, Terminal 2", "5309"),
    merchant("Hertz Rent-A-Car", "3357"),
];

pub(crate) const CREDITORS: &[&str] = &[
    "Vodafone GmbH",
    "Telekom Deutschland GmbH",
    "Allianz Versicherungs-AG",
    "Stadtwerke München",
    "Fitness First",
    "ADAC e.V.",
    "Rundfunkbeitrag ARD, ZDF",
    "Hausverwaltung Schulz & Partner",
];

pub(crate) const CARD_TEXTS: &[&str] = &["Card payment", "Kartenzahlung", "Contactless"];
pub(crate) const TRANSFER_OUT_TEXTS: &[&str] = &[
    "Rent",
    "Invoice 2024-117",
    "Überweisung",
    "Transfer to savings",
    "Thanks for dinner 🍕",
];
pub(crate) const TRANSFER_IN_TEXTS: &[&str] = &[
    "SEPA credit transfer",
    "Refund, order 4711",
    "Gift \"birthday\"",
    "Invoice paid",
];
pub(crate) const DIRECT_DEBIT_TEXTS: &[&str] = &["SEPA direct debit", "Mandate M-2291, monthly"];
pub(crate) const SALARY_TEXTS: &[&str] = &["Salary", "Gehalt / Lohn"];

pub(crate) const SURVEY_COMMENTS: &[&str] = &[
    "très bien",
    "žluťoučký kůň, but the app is fine",
    "Sehr gut, danke!",
    "App crashes when I log in",
    "Why is the \"Premium\" fee so high?",
    "Friendly staff at the branch 😀",
    "Transfer took 3 days, too slow",
    "Muy buen servicio",
    "Nothing to add",
    "Line one\nline two",
];

pub(crate) const CONFIRMED_REASONS: &[&str] = &[
    "card not present fraud",
    "account takeover",
    "chargeback, customer did not authorise",
    "money mule activity",
    "",
];

pub(crate) const DISMISSED_REASONS: &[&str] = &[
    "customer confirmed the payment",
    "merchant descriptor unclear",
    "travel notice on file",
    "",
];

/// ASCII letters for an e-mail address: folds the accents the name lists use and drops the
/// rest.
pub(crate) fn ascii_fold(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let folded = match c {
            'ä' | 'Ä' => "ae",
            'ö' | 'Ö' | 'ő' => "oe",
            'ü' | 'Ü' => "ue",
            'ß' => "ss",
            'á' | 'à' | 'â' | 'ą' => "a",
            'é' | 'è' | 'ê' | 'ë' | 'ě' | 'ễ' | 'ę' => "e",
            'í' | 'ı' | 'î' => "i",
            'ó' | 'ô' => "o",
            'ú' | 'ů' | 'û' => "u",
            'ý' => "y",
            'č' | 'ç' => "c",
            'ř' => "r",
            'š' | 'ś' => "s",
            'ž' | 'ź' | 'ż' => "z",
            'ł' | 'Ł' => "l",
            'ñ' | 'ń' => "n",
            'ť' => "t",
            'ď' => "d",
            c if c.is_ascii_alphanumeric() => {
                out.push(c.to_ascii_lowercase());
                continue;
            }
            _ => continue,
        };
        out.push_str(folded);
    }
    out
}
