#!/usr/bin/env python3
"""Deterministic DLP benchmark corpus (standard library only).

    python3 gen_corpus.py OUT_DIR [--seed 7] [--text-mb 8]

Writes
  OUT_DIR/text/...       plain-text files (txt, log, csv, json, env, md, yaml) of mixed
                         sizes: business prose with planted values (valid checksums) and
                         hard negatives (order numbers, UUIDs, hashes, versions, IMEIs,
                         dates, invalid checksums, documented example keys, masks).
  OUT_DIR/labels.jsonl   one line per planted value: file, type, start, end, value
                         (byte offsets; every file is ASCII so they are also char offsets).
  OUT_DIR/formats/...    the same kind of content as DOCX, XLSX, PPTX, ODT, PDF, RTF, EML,
                         UTF-16, HTML, ZIP (nested), TAR.GZ, GZ.
  OUT_DIR/formats.jsonl  per format file: the planted types and counts.
Every run with the same seed gives byte-identical files.
"""
import gzip
import io
import json
import os
import random
import sys
import tarfile
import zipfile
import zlib

B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def digits(self, n):
        return "".join(self.r.choice("0123456789") for _ in range(n))

    def chars(self, alphabet, n):
        return "".join(self.r.choice(alphabet) for _ in range(n))

    # ---- checksums -------------------------------------------------------------------
    @staticmethod
    def luhn_digit(body):
        total = 0
        for i, c in enumerate(reversed(body)):
            d = int(c)
            if i % 2 == 0:
                d *= 2
                if d > 9:
                    d -= 9
            total += d
        return str((10 - total % 10) % 10)

    @staticmethod
    def luhn_ok(s):
        total = 0
        for i, c in enumerate(reversed(s)):
            d = int(c)
            if i % 2 == 1:
                d *= 2
                if d > 9:
                    d -= 9
            total += d
        return total % 10 == 0

    # ---- planted values ----------------------------------------------------------------
    def credit_card(self):
        brand = self.r.choice(["visa", "visa", "mc", "mc2", "amex", "discover", "jcb"])
        if brand == "visa":
            prefix, n = "4", 16
        elif brand == "mc":
            prefix, n = str(self.r.randint(51, 55)), 16
        elif brand == "mc2":
            prefix, n = str(self.r.randint(2221, 2720)), 16
        elif brand == "amex":
            prefix, n = self.r.choice(["34", "37"]), 15
        elif brand == "discover":
            prefix, n = "6011", 16
        else:
            prefix, n = str(self.r.randint(3528, 3589)), 16
        while True:
            body = prefix + self.digits(n - len(prefix) - 1)
            num = body + self.luhn_digit(body)
            if len(set(num)) > 3:
                break
        style = self.r.choice(["space", "dash", "plain"])
        if n == 15:
            groups = [num[:4], num[4:10], num[10:]]
        else:
            groups = [num[i:i + 4] for i in range(0, 16, 4)]
        return {"space": " ".join(groups), "dash": "-".join(groups), "plain": num}[style]

    def ssn(self, sep="-"):
        while True:
            area = self.r.randint(1, 899)
            if area != 666:
                break
        group = self.r.randint(1, 99)
        serial = self.r.randint(1, 9999)
        return f"{area:03d}{sep}{group:02d}{sep}{serial:04d}"

    def itin(self):
        group = self.r.choice(list(range(70, 89)) + [90, 91, 92] + list(range(94, 100)))
        return f"9{self.digits(2)}-{group:02d}-{self.digits(4)}"

    IBAN_SHAPES = {
        "DE": "n18", "FR": "n23", "ES": "n20", "IT": "a1n22", "NL": "a4n10", "BE": "n12", "CH": "n17", "GB": "a4n14",
    }

    def iban(self):
        country = self.r.choice(sorted(self.IBAN_SHAPES))
        shape = self.IBAN_SHAPES[country]
        bban = ""
        i = 0
        while i < len(shape):
            kind = shape[i]
            j = i + 1
            while j < len(shape) and shape[j].isdigit():
                j += 1
            n = int(shape[i + 1:j])
            bban += self.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ", n) if kind == "a" else self.digits(n)
            i = j
        rearranged = bban + country + "00"
        numeric = "".join(str(int(c, 36)) for c in rearranged)
        check = 98 - int(numeric) % 97
        iban = f"{country}{check:02d}{bban}"
        if self.r.random() < 0.6:
            iban = " ".join(iban[k:k + 4] for k in range(0, len(iban), 4))
        return iban

    def routing(self):
        while True:
            prefix = self.r.choice(["0", "1", "2", "3"]) + str(self.r.randint(0, 9))
            if not (0 <= int(prefix) <= 12 or 21 <= int(prefix) <= 32):
                continue
            d = [int(c) for c in prefix + self.digits(6)]
            s = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5])
            last = (10 - s % 10) % 10
            return "".join(map(str, d)) + str(last)

    FIRST = ["james", "mary", "robert", "patricia", "john", "jennifer", "michael", "linda", "david", "elizabeth", "wei", "priya", "carlos", "fatima", "olga", "kenji"]
    LAST = ["smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "martinez", "chen", "patel", "kowalski", "nguyen", "okafor"]
    DOMAINS = ["example.com", "acme-corp.com", "mail.example.org", "contoso.net", "globex.co.uk", "initech.io"]

    def email(self):
        sep = self.r.choice([".", "_", ""])
        return f"{self.r.choice(self.FIRST)}{sep}{self.r.choice(self.LAST)}{self.r.randint(1, 99) if self.r.random() < 0.3 else ''}@{self.r.choice(self.DOMAINS)}"

    def phone(self):
        while True:
            area = f"{self.r.randint(2, 9)}{self.r.randint(0, 8)}{self.r.randint(0, 9)}"
            if area[1:] != "11":
                break
        exch = f"{self.r.randint(2, 9)}{self.digits(2)}"
        line = self.digits(4)
        style = self.r.choice(["paren", "dash", "dot", "intl", "uk"])
        if style == "paren":
            return f"({area}) {exch}-{line}"
        if style == "dash":
            return f"{area}-{exch}-{line}"
        if style == "dot":
            return f"{area}.{exch}.{line}"
        if style == "intl":
            return f"+1 {area} {exch} {line}"
        return f"+44 20 7946 {self.digits(4)}"

    def passport(self):
        return str(self.r.randint(1, 9)) + self.digits(8)

    def nino(self):
        first = self.r.choice("ABCEGHJKLMNOPRSTWXYZ")
        while True:
            second = self.r.choice("ABCEGHJKLMNPRSTWXYZ")
            if first + second not in ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ"):
                break
        d = self.digits(6)
        suffix = self.r.choice("ABCD")
        if self.r.random() < 0.5:
            return f"{first}{second} {d[:2]} {d[2:4]} {d[4:]} {suffix}"
        return f"{first}{second}{d}{suffix}"

    def ip(self):
        return f"{self.r.randint(11, 223)}.{self.r.randint(0, 255)}.{self.r.randint(0, 255)}.{self.r.randint(1, 254)}"

    def nhs(self):
        while True:
            d = [int(c) for c in self.digits(9)]
            s = sum(v * (10 - i) for i, v in enumerate(d))
            c = 11 - s % 11
            if c == 11:
                c = 0
            if c != 10 and len(set(d)) > 2:
                n = "".join(map(str, d)) + str(c)
                return f"{n[:3]} {n[3:6]} {n[6:]}"

    def sin(self):
        while True:
            body = str(self.r.choice([1, 2, 3, 4, 5, 6, 7, 9])) + self.digits(7)
            n = body + self.luhn_digit(body)
            return f"{n[:3]} {n[3:6]} {n[6:]}"

    def aws_key_id(self):
        return "AKIA" + self.chars(B32, 16)

    def aws_secret(self):
        return self.chars(B64, 40)

    def github(self):
        return "ghp_" + self.chars(ALNUM, 36)

    def slack(self):
        return f"xoxb-{self.digits(12)}-{self.digits(13)}-{self.chars(ALNUM, 24)}"

    def stripe(self):
        return "sk_live_" + self.chars(ALNUM, 24)

    def google(self):
        return "AIza" + self.chars(B64URL, 35)

    def sendgrid(self):
        return "SG." + self.chars(B64URL, 22) + "." + self.chars(B64URL, 43)

    def npm(self):
        return "npm_" + self.chars(ALNUM, 36)

    def b64url(self, raw):
        import base64
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def jwt(self):
        header = self.b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = self.b64url(json.dumps({"sub": self.digits(8), "name": self.r.choice(self.FIRST), "iat": 1700000000 + self.r.randint(0, 10 ** 7)}).encode())
        sig = self.b64url(bytes(self.r.randrange(256) for _ in range(32)))
        return f"{header}.{payload}.{sig}"

    def private_key(self):
        kind = self.r.choice(["RSA ", "EC ", "OPENSSH ", ""])
        lines = [self.chars(B64, 64) for _ in range(self.r.randint(8, 25))]
        return f"-----BEGIN {kind}PRIVATE KEY-----\n" + "\n".join(lines) + f"\n-----END {kind}PRIVATE KEY-----"

    def password(self):
        return self.chars(ALNUM + "!#%&*+-=?@^_", self.r.randint(12, 20))

    # ---- hard negatives ----------------------------------------------------------------
    def hard_negative(self):
        k = self.r.randrange(22)
        if k == 0:
            return f"Order number: {self.digits(4)}-{self.digits(4)}-{self.digits(4)}-{self.digits(4)}"
        if k == 1:
            return f"request id {self.r.randbytes(16).hex()[:8]}-{self.r.randbytes(2).hex()}-4{self.r.randbytes(2).hex()[1:]}-a{self.r.randbytes(2).hex()[1:]}-{self.r.randbytes(6).hex()}"
        if k == 2:
            return f"sha256 {self.r.randbytes(32).hex()}"
        if k == 3:
            return f"commit {self.r.randbytes(20).hex()}"
        if k == 4:
            return f"version {self.r.randint(1, 20)}.{self.r.randint(0, 30)}.{self.r.randint(0, 300)}.{self.r.randint(0, 9999)}"
        if k == 5:
            body = "35" + self.digits(12)
            return f"IMEI: {body + self.luhn_digit(body)}"
        if k == 6:
            return f"on {self.r.randint(2000, 2030)}-{self.r.randint(1, 12):02d}-{self.r.randint(1, 28):02d} at {self.r.randint(0, 23):02d}:{self.r.randint(0, 59):02d}"
        if k == 7:
            return f"SSN: {self.r.randint(900, 999)}-{self.r.randint(10, 99)}-{self.digits(4)}"  # never issued
        if k == 8:
            return f"SSN 000-{self.r.randint(10, 99)}-{self.digits(4)}"
        if k == 9:
            while True:
                body = "4" + self.digits(15)
                if not self.luhn_ok(body):
                    return f"card {body[:4]} {body[4:8]} {body[8:12]} {body[12:]}"  # fails Luhn
        if k == 10:
            return "card XXXX-XXXX-XXXX-" + self.digits(4)
        if k == 11:
            return "aws_access_key_id = AKIAIOSFODNN7EXAMPLE"
        if k == 12:
            return "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
        if k == 13:
            return "password = <your-password-here>"
        if k == 14:
            return "DB_PASSWORD=${DB_PASSWORD}"
        if k == 15:
            return f"invoice INV-{self.r.randint(2019, 2025)}-{self.digits(6)}"
        if k == 16:
            return f"tracking 1Z{self.chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 16)}"
        if k == 17:
            return f"ISBN 978-{self.digits(1)}-{self.digits(3)}-{self.digits(5)}-{self.digits(1)}"
        if k == 18:
            return f"total ${self.r.randint(1, 99)},{self.digits(3)}.{self.digits(2)}"
        if k == 19:
            return f"ref GB00 WEST {self.digits(4)} {self.digits(4)} {self.digits(4)} {self.digits(2)}"  # bad IBAN check digits
        if k == 20:
            return f"build {self.digits(9)}"
        return "token ghp_" + "x" * 36


WORDS = ("the quarterly report shows revenue growth in every region while the customer team reviewed the project "
         "deadline and asked support to send an update about the service migration before the board meeting "
         "please confirm the budget numbers with finance and legal so that procurement can approve the vendor "
         "contract renewal next week our onboarding checklist includes payroll benefits equipment and training").split()


class Doc:
    """Builds ASCII text and records the offsets of planted values."""

    def __init__(self, gen, name):
        self.g = gen
        self.name = name
        self.parts = []
        self.len = 0
        self.labels = []

    def add(self, s):
        self.parts.append(s)
        self.len += len(s)

    def plant(self, kind, value, before="", after=""):
        self.add(before)
        self.labels.append({"file": self.name, "type": kind, "start": self.len, "end": self.len + len(value), "value": value})
        self.add(value)
        self.add(after)

    def prose(self, words):
        self.add(" ".join(self.g.r.choice(WORDS) for _ in range(words)) + ". ")

    def text(self):
        return "".join(self.parts)


CONTEXT = {
    "credit_card": ["Card number: ", "Visa ", "paid with card ", "CC: ", "card ", ""],
    "us_ssn": ["SSN: ", "Social Security Number ", "ssn=", ""],
    "iban": ["IBAN: ", "Bank account (IBAN) ", "wire to ", ""],
    "email": ["Email: ", "contact ", "reply to ", ""],
    "phone_number": ["Phone: ", "call ", "Tel. ", "mobile "],
    "us_bank_routing": ["Routing number: ", "ABA routing ", "ABA: "],
    "us_itin": ["ITIN: ", "taxpayer ITIN "],
    "us_passport": ["Passport No: ", "passport number "],
    "uk_nino": ["National Insurance number: ", "NINO ", "NI number "],
    "ip_address": ["client ip ", "from host ", "remote addr "],
    "uk_nhs_number": ["NHS number: ", "NHS No. "],
    "ca_sin": ["SIN: ", "Social Insurance Number "],
}
SECRET_FORMS = {
    "aws_access_key_id": lambda g, v: (f"aws_access_key_id = ", v),
    "aws_secret_access_key": lambda g, v: (f"aws_secret_access_key = ", v),
    "github_token": lambda g, v: (g.r.choice(["GITHUB_TOKEN=", "token: ", "Authorization: token "]), v),
    "slack_token": lambda g, v: (g.r.choice(["SLACK_BOT_TOKEN=", "slack token "]), v),
    "stripe_secret_key": lambda g, v: (g.r.choice(["STRIPE_KEY=", "stripe.api_key = \""]), v),
    "google_api_key": lambda g, v: (g.r.choice(["GOOGLE_API_KEY=", "maps key "]), v),
    "sendgrid_api_key": lambda g, v: ("SENDGRID_API_KEY=", v),
    "npm_token": lambda g, v: ("//registry.npmjs.org/:_authToken=", v),
    "jwt": lambda g, v: (g.r.choice(["Authorization: Bearer ", "id_token=", "jwt: "]), v),
    "password_assignment": lambda g, v: (g.r.choice(["password = \"", "db_password: ", "PASSWORD="]), v),
}
PII_KINDS = list(CONTEXT)
SECRET_KINDS = list(SECRET_FORMS) + ["private_key"]


def value_for(g, kind):
    return {
        "credit_card": g.credit_card, "us_ssn": g.ssn, "iban": g.iban, "email": g.email, "phone_number": g.phone,
        "us_bank_routing": g.routing, "us_itin": g.itin, "us_passport": g.passport, "uk_nino": g.nino, "ip_address": g.ip,
        "uk_nhs_number": g.nhs, "ca_sin": g.sin, "aws_access_key_id": g.aws_key_id, "aws_secret_access_key": g.aws_secret,
        "github_token": g.github, "slack_token": g.slack, "stripe_secret_key": g.stripe, "google_api_key": g.google,
        "sendgrid_api_key": g.sendgrid, "npm_token": g.npm, "jwt": g.jwt, "password_assignment": g.password,
        "private_key": g.private_key,
    }[kind]()


def plant_one(doc, kind):
    g = doc.g
    v = value_for(g, kind)
    if kind in CONTEXT:
        ctx = g.r.choice(CONTEXT[kind])
        if kind == "us_ssn" and ctx == "" and g.r.random() < 0.5:
            ctx = "SSN "
        doc.plant(kind, v, before=ctx, after=" ")
    elif kind == "private_key":
        doc.plant(kind, v, before="\n", after="\n")
    else:
        before, value = SECRET_FORMS[kind](g, v)
        closing = "\"" if before.endswith("\"") else ""
        doc.plant(kind, value, before=before, after=closing + "\n")


def make_text_doc(g, name, size, style):
    doc = Doc(g, name)
    kinds_pii = PII_KINDS
    while doc.len < size:
        roll = g.r.random()
        if style == "csv":
            if doc.len == 0:
                doc.add("name,email,phone,ssn,card,notes\n")
            doc.add(f"{g.r.choice(Gen.FIRST)} {g.r.choice(Gen.LAST)},")
            doc.plant("email", g.email(), after=",")
            doc.plant("phone_number", g.phone(), after=",")
            doc.plant("us_ssn", g.ssn(), after=",")
            doc.plant("credit_card", g.credit_card(), after=",")
            doc.add(g.hard_negative().replace(",", " ") + "\n")
            continue
        if style == "log":
            doc.add(f"2024-0{g.r.randint(1, 9)}-{g.r.randint(10, 28)}T{g.r.randint(10, 23)}:{g.r.randint(10, 59)}:00Z INFO request handled in {g.r.randint(1, 999)} ms ")
            if roll < 0.3:
                doc.plant("ip_address", g.ip(), before="client ip ", after=" ")
            elif roll < 0.4:
                doc.plant("email", g.email(), before="user=", after=" ")
            elif roll < 0.5:
                doc.add(g.hard_negative() + " ")
            elif roll < 0.53:
                plant_one(doc, g.r.choice(SECRET_KINDS))
            doc.add("\n")
            continue
        if style == "env":
            if roll < 0.5:
                plant_one(doc, g.r.choice(SECRET_KINDS))
            elif roll < 0.8:
                doc.add(f"{g.r.choice(['PORT', 'LOG_LEVEL', 'REGION', 'TIMEOUT'])}={g.r.choice(['8080', 'info', 'eu-west-1', '30'])}\n")
            else:
                doc.add("# " + g.hard_negative() + "\n")
            continue
        if style == "json":
            doc.add("{\"id\": %d, \"note\": \"" % g.r.randint(1, 10 ** 6))
            doc.prose(g.r.randint(5, 15))
            if roll < 0.4:
                kind = g.r.choice(PII_KINDS)
                doc.plant(kind, value_for(g, kind), before=g.r.choice(CONTEXT[kind]).replace("\"", ""), after=" ")
            elif roll < 0.6:
                doc.add(g.hard_negative().replace("\"", "'") + " ")
            doc.add("\"}\n")
            continue
        # prose (txt, md)
        doc.prose(g.r.randint(20, 120))
        if roll < 0.45:
            plant_one(doc, g.r.choice(kinds_pii))
        elif roll < 0.6:
            plant_one(doc, g.r.choice(SECRET_KINDS))
        elif roll < 0.9:
            doc.add(g.hard_negative() + ". ")
        if g.r.random() < 0.2:
            doc.add("\n\n")
    return doc


# ---- binary formats ------------------------------------------------------------------------

def zip_bytes(members, compress=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as z:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = compress
            z.writestr(info, data)
    return buf.getvalue()


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def docx(lines):
    body = "".join(f"<w:p><w:r><w:t xml:space=\"preserve\">{esc(l)}</w:t></w:r></w:p>" for l in lines)
    return zip_bytes([("[Content_Types].xml", "<Types/>"), ("word/document.xml", f"<w:document><w:body>{body}</w:body></w:document>")])


def xlsx(lines):
    sst = "".join(f"<si><t>{esc(l)}</t></si>" for l in lines)
    rows = "".join(f"<row r=\"{i + 1}\"><c r=\"A{i + 1}\" t=\"s\"><v>{i}</v></c></row>" for i in range(len(lines)))
    return zip_bytes([("[Content_Types].xml", "<Types/>"), ("xl/workbook.xml", "<workbook/>"), ("xl/sharedStrings.xml", f"<sst>{sst}</sst>"),
                      ("xl/worksheets/sheet1.xml", f"<worksheet><sheetData>{rows}</sheetData></worksheet>")])


def pptx(lines):
    slides = [(f"ppt/slides/slide{i + 1}.xml", f"<p:sld><a:p><a:r><a:t>{esc(l)}</a:t></a:r></a:p></p:sld>") for i, l in enumerate(lines)]
    return zip_bytes([("[Content_Types].xml", "<Types/>"), ("ppt/presentation.xml", "<p/>")] + slides)


def odt(lines):
    body = "".join(f"<text:p>{esc(l)}</text:p>" for l in lines)
    return zip_bytes([("mimetype", "application/vnd.oasis.opendocument.text"), ("content.xml", f"<office:document-content><office:body>{body}</office:body></office:document-content>")])


def pdf(lines):
    def pdf_str(s):
        return "(" + s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"
    ops = "BT /F1 10 Tf 50 750 Td 12 TL " + " ".join(f"{pdf_str(l)} Tj T*" for l in lines) + " ET"
    stream = zlib.compress(ops.encode())
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, o in enumerate(objs):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % (i + 1) + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer << /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def rtf(lines):
    return ("{\\rtf1\\ansi{\\fonttbl{\\f0 Arial;}}\\f0 " + "\\par ".join(l.replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}") for l in lines) + "}").encode()


def eml(lines, attachment_name, attachment):
    import base64
    b64 = base64.encodebytes(attachment).decode()
    body = "\r\n".join(lines)
    return (f"From: hr@example.com\r\nTo: payroll@example.com\r\nSubject: records\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/mixed; boundary=\"BOUNDARY\"\r\n\r\n--BOUNDARY\r\nContent-Type: text/plain\r\n\r\n{body}\r\n"
            f"--BOUNDARY\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"{attachment_name}\"\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--BOUNDARY--\r\n").encode()


def html(lines):
    return ("<html><body>" + "".join(f"<p>{esc(l)}</p>" for l in lines) + "</body></html>").encode()


def format_lines(g, n):
    """Lines for document formats, with their planted kinds."""
    lines, kinds = [], []
    for _ in range(n):
        kind = g.r.choice(["credit_card", "us_ssn", "iban", "email", "github_token", "aws_access_key_id", "uk_nino"])
        v = value_for(g, kind)
        prefix = {"github_token": "GITHUB_TOKEN=", "aws_access_key_id": "aws_access_key_id = "}.get(kind, g.r.choice(CONTEXT.get(kind, [""])))
        lines.append(" ".join(g.r.choice(WORDS) for _ in range(8)) + f" {prefix}{v} ")
        kinds.append(kind)
        if g.r.random() < 0.5:
            lines.append(g.hard_negative())
    return lines, kinds


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        sys.exit(2)
    out = args[0]
    seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 7
    text_mb = float(args[args.index("--text-mb") + 1]) if "--text-mb" in args else 8.0
    g = Gen(seed)
    os.makedirs(os.path.join(out, "text"), exist_ok=True)
    os.makedirs(os.path.join(out, "formats"), exist_ok=True)
    labels = []
    total = 0
    i = 0
    styles = [("txt", "prose"), ("md", "prose"), ("log", "log"), ("csv", "csv"), ("json", "json"), ("env", "env")]
    while total < text_mb * 1e6:
        ext, style = styles[i % len(styles)]
        size = int(g.r.choice([2e3, 8e3, 30e3, 120e3, 400e3]) * (0.5 + g.r.random()))
        if style == "env":
            size = min(size, 4000)
        name = f"text/doc{i:04d}.{ext}"
        doc = make_text_doc(g, name, size, style)
        data = doc.text().encode("ascii")
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        labels.extend(doc.labels)
        total += len(data)
        i += 1
    with open(os.path.join(out, "labels.jsonl"), "w") as f:
        for l in labels:
            f.write(json.dumps(l) + "\n")

    formats = []
    builders = [
        ("docx", docx), ("xlsx", xlsx), ("pptx", pptx), ("odt", odt), ("pdf", pdf), ("rtf", rtf), ("html", html),
    ]
    for j in range(60):
        ext, build = builders[j % len(builders)]
        lines, kinds = format_lines(g, g.r.randint(3, 12))
        name = f"formats/file{j:03d}.{ext}"
        with open(os.path.join(out, name), "wb") as f:
            f.write(build(lines))
        formats.append({"file": name, "format": ext, "kinds": kinds})
    # UTF-16, gzip, tar.gz, nested zip, eml with an attachment
    for j in range(10):
        lines, kinds = format_lines(g, 5)
        text = "\n".join(lines)
        variants = [
            ("utf16.txt", b"\xff\xfe" + text.encode("utf-16-le")),
            ("txt.gz", gzip.compress(text.encode(), mtime=0)),
        ]
        tar_buf = io.BytesIO()
        with tarfile.open(fileobj=tar_buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
            info = tarfile.TarInfo("inner/notes.txt")
            info.size = len(text.encode())
            info.mtime = 0
            t.addfile(info, io.BytesIO(text.encode()))
        variants.append(("tar.gz", gzip.compress(tar_buf.getvalue(), mtime=0)))
        variants.append(("zip", zip_bytes([("level1.zip", zip_bytes([("deep/notes.docx", docx(lines))]))])))
        variants.append(("eml", eml(["see attached"], "records.xlsx", xlsx(lines))))
        for ext, data in variants:
            name = f"formats/bundle{j:02d}.{ext}"
            with open(os.path.join(out, name), "wb") as f:
                f.write(data)
            # The message's From and To are e-mail addresses too.
            planted = kinds + ["email", "email"] if ext == "eml" else kinds
            formats.append({"file": name, "format": ext, "kinds": planted})
    with open(os.path.join(out, "formats.jsonl"), "w") as f:
        for fm in formats:
            f.write(json.dumps(fm) + "\n")
    print(f"wrote {i} text files ({total / 1e6:.1f} MB, {len(labels)} planted values) and {len(formats)} format files to {out}")


if __name__ == "__main__":
    main()
