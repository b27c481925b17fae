"""The data contract as data, shared by the DuckDB and Polars peers of bankpipe.

A transcription of `/work/shared/spec/data-contract.md` and of bankpipe's
`contract` crate (`entity.rs`, `codes.rs`, `rules.rs`): the entities in ingestion
order (parents first), their columns, keys, references, date orders, the ISO code
lists, the rule ids in precedence order, and the model's default parameters
(fraud and revenue rules). Both peers read only this module, so they run the same job.
"""

from dataclasses import dataclass, field

# Rule ids in the contract's precedence order: a row breaking several is
# quarantined once, under the first.
RULES = [
    "malformed_record",
    "invalid_encoding",
    "missing_required",
    "unparseable",
    "out_of_range",
    "unknown_code",
    "invalid_iban",
    "date_order",
    "duplicate",
    "orphan_reference",
]

COUNTRIES = """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN
BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO
DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB
LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA
SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT
TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW""".split()

CURRENCIES = """AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BOV BRL BSD BTN
BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR
FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS
KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN
MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR
SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN
UYI UYU UYW UZS VED VES VND VUV WST XAD XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU
XTS XUA XXX YER ZAR ZMW ZWG""".split()


@dataclass(frozen=True)
class Column:
    """One contract column.

    `kind` is one of text, code, country, currency, date, timestamp, decimal, int,
    bool; `codes` lists a code column's values (lower case); `scale` is a
    decimal's digits after the point; `check` is None, "positive", "non_negative",
    "four_digits", "iban" or ("range", min, max).
    """

    name: str
    kind: str
    required: bool = True
    codes: tuple = ()
    scale: int = 0
    check: object = None


@dataclass(frozen=True)
class Entity:
    """One raw entity: files, columns, key, references (column, parent entity),
    date orders (earlier, later, strict) and columns of which one must be given."""

    name: str
    pattern: str
    columns: list
    key: list
    references: list = field(default_factory=list)
    date_order: list = field(default_factory=list)
    one_of: list = field(default_factory=list)

    @property
    def is_jsonl(self):
        """Whether the entity's files are JSON Lines (else CSV)."""
        return self.pattern.endswith(".jsonl")


def text(name, required=True, check=None):
    """A text column."""
    return Column(name, "text", required, check=check)


def code(name, values, required=True):
    """A code column (case-insensitive on input, lower case once processed)."""
    return Column(name, "code", required, codes=tuple(values))


def money(name, required=True, check=None, scale=2):
    """A decimal column (2 digits after the point unless stated)."""
    return Column(name, "decimal", required, scale=scale, check=check)


ENTITIES = [
    Entity("products", "products*.csv", [
        text("product_id"), text("name"),
        code("category", ["current_account", "savings", "credit_card", "personal_loan",
                          "mortgage", "insurance", "investment"]),
        money("monthly_fee", check="non_negative"),
        money("interest_rate", required=False, scale=4),
        Column("currency", "currency"), Column("active", "bool"),
    ], key=["product_id"]),
    Entity("clients", "clients*.csv", [
        text("client_id"), text("first_name"), text("last_name"), Column("birth_date", "date"),
        code("gender", ["f", "m", "x"], required=False),
        text("email", required=False), text("phone", required=False), text("city"),
        Column("country", "country"),
        code("segment", ["retail", "premium", "private", "business"]),
        code("kyc_risk", ["low", "medium", "high"]),
        Column("joined_on", "date"), Column("updated_at", "timestamp"),
    ], key=["client_id"]),
    Entity("accounts", "accounts*.csv", [
        text("account_id"), text("client_id"), text("product_id"),
        text("iban", required=False, check="iban"), Column("currency", "currency"),
        Column("opened_on", "date"), Column("closed_on", "date", required=False),
        code("status", ["active", "dormant", "closed", "frozen"]),
        text("branch_code"), Column("updated_at", "timestamp"),
    ], key=["account_id"],
        references=[("client_id", "clients"), ("product_id", "products")],
        date_order=[("opened_on", "closed_on", False)]),
    Entity("transactions", "transactions*.csv", [
        text("transaction_id"), text("account_id"), Column("booked_at", "timestamp"),
        Column("value_date", "date"), money("amount", check="positive"),
        code("direction", ["credit", "debit"]), Column("currency", "currency"),
        code("channel", ["branch", "atm", "card", "online", "mobile", "transfer",
                         "direct_debit"]),
        text("merchant_name", required=False), text("mcc", required=False, check="four_digits"),
        text("counterparty_iban", required=False, check="iban"), Column("country", "country"),
        money("balance_after", required=False),
        code("status", ["booked", "pending", "reversed"]),
        text("description", required=False),
    ], key=["transaction_id"], references=[("account_id", "accounts")]),
    Entity("fx_rates", "fx_rates*.csv", [
        Column("date", "date"), Column("currency", "currency"),
        money("per_eur", check="positive", scale=6),
    ], key=["date", "currency"]),
    Entity("loans", "loans*.csv", [
        text("loan_id"), text("client_id"), text("account_id"), text("product_id"),
        money("principal", check="positive"), Column("currency", "currency"),
        money("annual_rate", check="non_negative", scale=4),
        Column("term_months", "int", check="positive"),
        Column("start_date", "date"), Column("maturity_date", "date"),
        code("status", ["current", "late", "default", "repaid", "written_off"]),
    ], key=["loan_id"],
        references=[("client_id", "clients"), ("account_id", "accounts"),
                    ("product_id", "products")],
        date_order=[("start_date", "maturity_date", True)]),
    Entity("payments", "payments*.csv", [
        text("payment_id"), text("loan_id", required=False), text("account_id"),
        Column("due_date", "date"), Column("paid_at", "timestamp", required=False),
        money("amount", check="positive"), Column("currency", "currency"),
        code("kind", ["installment", "fee", "card_repayment", "transfer"]),
        code("status", ["paid", "late", "missed", "pending"]),
    ], key=["payment_id"], references=[("loan_id", "loans"), ("account_id", "accounts")]),
    Entity("satisfaction", "satisfaction*.jsonl", [
        text("survey_id"), text("client_id"), text("product_id", required=False),
        code("channel", ["web", "app", "branch", "phone", "email"]),
        Column("answered_at", "timestamp"),
        Column("csat", "int", required=False, check=("range", 1, 5)),
        Column("nps", "int", required=False, check=("range", 0, 10)),
        text("comment", required=False),
    ], key=["survey_id"], references=[("client_id", "clients"), ("product_id", "products")],
        one_of=["csat", "nps"]),
    Entity("fraud_reports", "fraud_reports*.csv", [
        text("transaction_id"), Column("reported_at", "timestamp"), Column("confirmed", "bool"),
        text("reason", required=False),
    ], key=["transaction_id", "reported_at"], references=[("transaction_id", "transactions")]),
]

BY_NAME = {e.name: e for e in ENTITIES}

# bankpipe's default model parameters (`fraud.rs`, `revenue.rs`).
FRAUD = {
    "large_amount": {"weight": 70, "min_factor": 10.0, "min_prior_debits": 5},
    "velocity": {"weight": 60, "min_count": 10, "window_seconds": 600, "channel": "card"},
    "structuring": {"weight": 80, "threshold_eur": 10_000.0, "lower_bound_eur": 9_000.0,
                    "min_count": 3, "channels": ["branch", "atm"]},
    "new_country": {"weight": 50, "channel": "card", "min_history_days": 30},
    "dormant_reactivation": {"weight": 75, "min_gap_days": 60, "min_factor": 5.0},
    "night_atm": {"weight": 40, "from_hour_utc": 0, "to_hour_utc": 5, "min_count": 1},
    "multi_rule_bonus": 15,
}
FRAUD_RULES = ["large_amount", "velocity", "structuring", "new_country",
               "dormant_reactivation", "night_atm"]
REVENUE = {"fx_fee_rate": "0.015", "fx_fee_channels": ["card"], "late_fee_eur": "15"}

# The unknown member's surrogate and business keys.
UNKNOWN_KEY = -1
UNKNOWN_ID = "unknown"

# Reasons written to the quarantine, per rule (the column is filled in).
REASONS = {
    "malformed_record": "the record's field count differs from the header's, or its quoting is broken",
    "invalid_encoding": "{column} is not valid UTF-8 text",
    "missing_required": "{column} is required but empty",
    "unparseable": "{column} does not parse as its type",
    "out_of_range": "{column} breaks its bound",
    "unknown_code": "{column} is not one of the listed codes",
    "invalid_iban": "{column} fails the ISO 13616 checksum",
    "date_order": "{column} comes before its earlier date",
    "duplicate": "{column} repeats an earlier row's key (the first one is kept)",
    "orphan_reference": "{column} is not a known parent row",
    "one_of": "at least one of {column} is required",
}


def reason(rule, column):
    """The quarantine reason of `rule` on `column` (None where no single column is at fault)."""
    return REASONS[rule].format(column=column or "the record")
