//! Credentials. Most vendors give their tokens a fixed prefix (GitHub's `ghp_`, Slack's
//! `xoxb-`, ...): that prefix is the trigger and the match is reported at high confidence
//! once it passes the entropy and placeholder checks. Keys without a prefix (AWS secret
//! keys, generic passwords) are only looked for next to the words that name them.

use super::{Spec, Trigger, BASE};
use crate::model::{Category, Confidence};
use crate::validators;

/// A vendor token with a distinctive literal prefix.
pub(super) const fn token(
    id: &'static str,
    name: &'static str,
    prefixes: &'static [&'static str],
    pattern: &'static str,
) -> Spec {
    Spec {
        id,
        name,
        category: Category::Secret,
        trigger: Trigger::Prefixes(prefixes),
        pattern,
        base: Confidence::High,
        boosted: Confidence::High,
        secret: true,
        min_entropy: 3.0,
        reach: 256,
        reach_back: 0,
        ..BASE
    }
}

/// A key without a prefix, reported only when the vendor's name or the key's name is near.
pub(super) const fn named(
    id: &'static str,
    name: &'static str,
    keywords: &'static [&'static str],
    pattern: &'static str,
) -> Spec {
    Spec {
        id,
        name,
        category: Category::Secret,
        trigger: Trigger::Keywords(keywords),
        pattern,
        base: Confidence::Medium,
        boosted: Confidence::Medium,
        secret: true,
        min_entropy: 3.2,
        reach: 160,
        reach_back: 0,
        ..BASE
    }
}

fn jwt_header_is_json(raw: &[u8]) -> bool {
    let mut parts = raw.split(|&b| b == b'.');
    let header = parts.next().unwrap_or_default();
    let signature = parts.nth(1).unwrap_or_default();
    match crate::util::base64url_decode(header) {
        Some(decoded) => {
            let lower: Vec<u8> = decoded.iter().map(u8::to_ascii_lowercase).collect();
            let has_alg = memchr::memmem::find(&lower, b"\"alg\"").is_some();
            // An unsigned token (`alg: none`, empty signature) is as good as a signed one to
            // whoever holds it: the server that accepts it checks nothing. A signed algorithm
            // with the signature cut off is a truncated token, not a credential.
            let unsigned = json_has(&lower, b"\"alg\"", b"\"none\"");
            decoded.first() == Some(&b'{') && has_alg && (signature.is_empty() == unsigned)
        }
        None => false,
    }
}

/// Whether JSON text holds `"key": value` (spaces allowed around the colon).
fn json_has(json: &[u8], key: &[u8], value: &[u8]) -> bool {
    memchr::memmem::find_iter(json, key).any(|at| {
        let rest = &json[at + key.len()..];
        let rest = rest.trim_ascii_start();
        rest.first() == Some(&b':') && rest[1..].trim_ascii_start().starts_with(value)
    })
}

/// A Kubernetes service-account token: a JWT whose claims name the service account
/// (`kubernetes.io/serviceaccount/...` in legacy secrets, a `kubernetes.io` object in
/// projected tokens).
fn kubernetes_service_account_jwt(raw: &[u8]) -> bool {
    let Some(payload) = raw.split(|&b| b == b'.').nth(1) else {
        return false;
    };
    jwt_header_is_json(raw)
        && crate::util::base64url_decode(payload).is_some_and(|claims| {
            memchr::memmem::find(&claims, b"\"kubernetes.io/serviceaccount/").is_some()
                || memchr::memmem::find(&claims, b"\"kubernetes.io\":").is_some()
        })
}

/// A Discord bot token starts with the bot's user id (a snowflake: 17 to 20 digits) in
/// base64url; the rest is a timestamp and an HMAC.
fn discord_bot_token(raw: &[u8]) -> bool {
    let id = raw.split(|&b| b == b'.').next().unwrap_or_default();
    crate::util::base64url_decode(id)
        .is_some_and(|d| (17..=20).contains(&d.len()) && d.iter().all(u8::is_ascii_digit))
}

/// `Basic` credentials and Docker `auth` entries are base64 of `user:password`.
pub(super) fn base64_user_password(raw: &[u8]) -> bool {
    crate::util::base64url_decode(raw).is_some_and(|d| {
        let colon = d.iter().position(|&b| b == b':');
        colon.is_some_and(|c| c > 0 && d.len() - c > 3)
            && d.iter().all(|b| b.is_ascii_graphic() || *b == b' ')
            && !validators::is_placeholder(&d)
    })
}

/// Values that name where a secret comes from instead of holding it: variables
/// (`$password`, `${DB_PASSWORD}`, `%(password)s`, `%DB_PASS%`, `var.db_password`,
/// `self.password`), templates (`{{ .Values.password }}`), code paths
/// (`windows_sys::core::PWSTR`), identifiers (`db_password`, `DB_PASSWORD`, a type name
/// such as `SecretStr`, a field name such as `challengePassword`) and file paths
/// (`PWD=/home/user`).
pub(super) fn literal_value(raw: &[u8]) -> bool {
    const REFERENCES: &[&[u8]] = &[
        b"${", b"{{", b"%(", b"%{", b"#{", b"$(", b"::", b"getenv", b"environ",
    ];
    if raw.is_empty()
        || matches!(raw[0], b'$' | b'@' | b'&' | b'*' | b':')
        || (raw[0] == b'%' && raw.last() == Some(&b'%'))
        || REFERENCES
            .iter()
            .any(|r| memchr::memmem::find(raw, r).is_some())
    {
        return false;
    }
    let word = |w: &[u8]| {
        w.first()
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
            && w.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
    };
    // `var.db_password`, `self.password`, `config.db.password`: an attribute path.
    let dotted = raw.contains(&b'.') && raw.split(|&b| b == b'.').all(word);
    // `db_password`, `credentials`, `SecretStr`, `CFStringRef`, `DBPROPENUM`: letters
    // alone (and underscores) are a variable or type name far more often than a password.
    let identifier = raw.iter().all(|c| c.is_ascii_alphabetic() || *c == b'_');
    let upper_snake = raw.contains(&b'_')
        && raw
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_');
    let path = raw[0] == b'/' && raw[1..].contains(&b'/');
    !(dotted || identifier || upper_snake || path)
}

/// `curl -u user:password`: the password part is a literal, not `$PASS`.
fn user_colon_password(raw: &[u8]) -> bool {
    raw.iter()
        .position(|&b| b == b':')
        .is_some_and(|c| literal_value(&raw[c + 1..]))
}

/// After a `://`: a `user:password@` part, as far as the pattern allows (64 bytes of user,
/// 128 of password) and before anything that ends it (white space, `/`, `?`, `#`). Most
/// URLs have none, and this spares the regex their windows.
fn userinfo_follows(after_scheme: &[u8]) -> bool {
    let reach = &after_scheme[..after_scheme.len().min(64 + 1 + 128 + 1)];
    match reach
        .iter()
        .position(|&b| b.is_ascii_whitespace() || matches!(b, b'/' | b'?' | b'#' | b'@'))
    {
        Some(end) => reach[end] == b'@' && reach[..end].contains(&b':'),
        None => false,
    }
}

/// `scheme://user:password@host`: the password part is a literal, not `${DB_PASSWORD}`.
fn url_password_literal(raw: &[u8]) -> bool {
    let Some(scheme_end) = memchr::memmem::find(raw, b"://") else {
        return false;
    };
    let authority = &raw[scheme_end + 3..];
    let userinfo = &authority[..memchr::memrchr(b'@', authority).unwrap_or(authority.len())];
    // `[user[:password]@]host` is a syntax summary; `user:password@` a documented shape.
    let password = userinfo
        .splitn(2, |&b| b == b':')
        .nth(1)
        .unwrap_or_default();
    const WORDS: &[&[u8]] = &[b"password", b"passwd", b"pass", b"pwd", b"secret", b"pw"];
    !userinfo.iter().any(|b| matches!(b, b'[' | b']'))
        && !WORDS.iter().any(|w| password.eq_ignore_ascii_case(w))
        && user_colon_password(userinfo)
}

/// A quoted password: a literal (see [`literal_value`]) that is not a description of one
/// (`'Password used to generate key'`, `'top secret'`).
fn quoted_password(raw: &[u8]) -> bool {
    let lower = raw.to_ascii_lowercase();
    literal_value(raw)
        && !["password", "passphrase", "secret"]
            .iter()
            .any(|w| memchr::memmem::find(&lower, w.as_bytes()).is_some())
}

/// 40 hexadecimal digits are a git commit or a SHA-1 digest far more often than a token.
pub(super) fn not_a_digest(raw: &[u8]) -> bool {
    !(raw.len() == 40 && raw.iter().all(u8::is_ascii_hexdigit))
}

/// Random tokens of letters and digits have both; words and names rarely do.
pub(super) fn letters_and_digits(raw: &[u8]) -> bool {
    raw.iter().any(u8::is_ascii_digit) && raw.iter().any(u8::is_ascii_alphabetic)
}

/// Okta API tokens are random over upper and lower case letters and digits.
fn okta_token(raw: &[u8]) -> bool {
    raw.iter().any(u8::is_ascii_uppercase)
        && raw.iter().any(u8::is_ascii_lowercase)
        && raw[2..].iter().any(u8::is_ascii_digit)
}

/// Tokens with a fixed run of `A`s (Twitter bearer tokens start with 22, Dropbox
/// long-lived tokens hold 10): the placeholder check would take the run for a mask, so
/// the rest of the token is checked instead.
fn random_besides_padding(raw: &[u8]) -> bool {
    let rest: Vec<u8> = raw.iter().copied().filter(|&b| b != b'A').collect();
    rest.len() >= 20
        && !validators::is_placeholder(&rest)
        && validators::shannon_entropy(&rest) >= 3.5
}

fn private_key_body(raw: &[u8]) -> bool {
    // Real PEM bodies are long base64 runs; documentation shows `...` or `<key>`.
    let base64_chars = raw
        .iter()
        .filter(|b| b.is_ascii_alphanumeric() || **b == b'+' || **b == b'/')
        .count();
    base64_chars >= 100
        && memchr::memmem::find(raw, b"...").is_none()
        && !validators::is_placeholder(&raw[raw.len().min(40)..])
}

fn bitcoin_address(raw: &[u8]) -> bool {
    validators::base58check(raw)
}

/// Words that make a password assignment more than a line of code: what it opens.
const PASSWORD_CONTEXT: &[&str] = &[
    "prod",
    "production",
    "db",
    "database",
    "login",
    "credential",
];

pub const SPECS: &[Spec] = &[
    Spec {
        context: &["aws", "amazon", "access key", "iam"],
        examples: &["key id AKIADPYF3ADP4AP7ZDB3", "ASIAA7SBNCW63OCBK3VF in the session"],
        counter_examples: &["AKIAIOSFODNN7EXAMPLE", "AKIAZRRRADRVINB4", "akiavvkpfngohgjvdnxi"],
        ..token(
            "aws_access_key_id",
            "AWS access key ID",
            &["AKIA", "ASIA", "ABIA", "ACCA", "A3T"],
            r"\b((?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16})\b",
        )
    },
    Spec {
        min_entropy: 3.8,
        context: &["aws", "amazon"],
        examples: &["aws_secret_access_key = aAWtceE6oqXlDu+zoXYr2mWQizU29xOQGhxn7rgk"],
        counter_examples: &[
            "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "aws_secret_access_key = nli5mp2RDFQR6r7Wih3Qs3205zXAUekA4cA9/3R",
        ],
        ..named(
            "aws_secret_access_key",
            "AWS secret access key",
            &[
                "secret_access_key",
                "secretaccesskey",
                "aws_secret",
                "aws secret",
                "secret access key",
                "akia",
            ],
            r#"(?i:secret_?access_?key|secretaccesskey|aws_secret(?:_key)?|aws secret(?: access)? key|secret access key|akia[a-z2-7]{16})["'\]]?\s*(?:[:=,|]|=>|\s)\s*["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)"#,
        )
    },
    Spec {
        reach: 400,
        examples: &[
            "aws_session_token = 4CxEu7dPgdbAfxX6SdyzFYxi8Q6KEBLHNiNxPySpqqGD+1owuYtc/bBe88RIJJe2fDkMPsX5B/P7cxj4RCcHLsXnavplOF96kc7rhxlAzouFw2NAw+MoiXeupmUQ8g+TuX5lDNSYD36DbXt3WgA06QX7hDwYosjc9kMSgdzVDBF5iGkYqZjrS7ti9xF/MuXyKhRQ/fMngWdbQ7qHnkayje3zdDA1rHuAYzfquZBOyrRHOl3FBOLChmVhM5oZbV3WrkV/VHQcDN18yiYh353KcOmhv2aVq5sz7KcmPLsHIa40ae8fjJ0WSDFS+mFMhZ7H",
        ],
        counter_examples: &[
            "aws_session_token = vJ5XjjSaiOFz6K0vhBl3+uJfbQVteqnCWx7uqUy/Rvg7Ozo79zLuiVfXi5ok",
        ],
        ..named(
            "aws_session_token",
            "AWS session token",
            &["aws_session_token", "sessiontoken"],
            r#"(?i:aws_session_token|sessiontoken)["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{100,1000})"#,
        )
    },
    Spec {
        examples: &["amzn.mws.1c588559-2eba-4167-a569-564c65c99084"],
        counter_examples: &["amzn.mws.bwgifzbl-zzzz-gegb"],
        ..token(
            "aws_mws_key",
            "Amazon MWS auth token",
            &["amzn.mws."],
            r"\b(amzn\.mws\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b",
        )
    },
    Spec {
        examples: &[
            "token ghp_HnAacuahYaYoFDlLKPiPvISTZfdvVWJJ2nxv",
            "GH_TOKEN=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",
        ],
        counter_examples: &["ghp_yz7r0kJlRywXAh6KnClK", "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"],
        ..token(
            "github_token",
            "GitHub token",
            &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
            r"\b((?:gh[pousr]_[A-Za-z0-9]{36,255})|(?:github_pat_[A-Za-z0-9_]{82}))\b",
        )
    },
    Spec {
        examples: &["glpat-CMLRy6VY1pNogjDbjEUP", "CI runner glrt-0kiPhUYPXnlVVDajWFPsomeY"],
        counter_examples: &["glpat-xxxxxxxxxxxxxxxxxxxx", "glpat-vOsQ9tqo"],
        ..token(
            "gitlab_token",
            "GitLab token",
            &["glpat-", "glptt-", "glrt-", "gldt-", "glft-", "glsoat-"],
            r"\b((?:glpat|gldt|glft|glsoat|glrt)-[A-Za-z0-9_\-]{20,}|glptt-[0-9a-f]{40})",
        )
    },
    Spec {
        examples: &["xoxb-38176457174-1789486812940-zmInQ8a80WMlla8RHZ303F9Y"],
        counter_examples: &["xoxb-not-a-token", "xoxb-30816-0t3W9iFR9XEEjT9UvVaHxw83"],
        ..token(
            "slack_token",
            "Slack token",
            &["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe", "xapp-"],
            r"\b((?:xox[baprs]-[0-9]{8,13}-[0-9A-Za-z\-]{8,}|xoxe(?:\.xox[bp])?-1-[A-Za-z0-9\-]{100,}|xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+))",
        )
    },
    Spec {
        // The trigger is the host name: the scheme before it is reached back to.
        reach_back: 8,
        examples: &[
            "SLACK_WEBHOOK=https://hooks.slack.com/services/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",
            "curl -X POST https://hooks.slack.com/workflows/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",
            "https://hooks.slack.com/triggers/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",
        ],
        counter_examples: &[
            "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
            "https://hooks.slack.com/services/TZD9LM2RX30/BFVA8FSI1Q4",
            "see https://hooks.slack.com/ for the docs",
        ],
        ..token(
            "slack_webhook_url",
            "Slack incoming webhook or workflow trigger",
            &["hooks.slack.com/"],
            r"(https://hooks\.slack\.com/(?:services/T[A-Z0-9]{8,12}/B[A-Z0-9]{8,12}/[A-Za-z0-9]{24}|(?:workflows|triggers)/T[A-Z0-9]{8,12}/[A-Za-z0-9]{8,24}/(?:[0-9]{6,24}/)?[A-Za-z0-9]{24,40}))(?:[^A-Za-z0-9]|$)",
        )
    },
    Spec {
        reach_back: 0,
        examples: &[
            "stripe sk_live_UeKWi4XLCxLLZx6aLb4tRo7T",
            "restricted rk_live_1ipQ52hruBnEBtKW48cUHZqshmdGM7",
        ],
        counter_examples: &["sk_live_s42jUgwiIx", "sk_test_20rID6Geez5DG653NLVmDuvo"],
        ..token(
            "stripe_secret_key",
            "Stripe secret or restricted key",
            &["sk_live_", "rk_live_"],
            r"\b((?:sk|rk)_live_[A-Za-z0-9]{20,247})\b",
        )
    },
    Spec {
        base: Confidence::Low,
        boosted: Confidence::Low,
        examples: &["STRIPE_KEY=sk_test_NNs6OWIqwjdRh29XixpWyt1M"],
        counter_examples: &["sk_test_0qlF2yRk", "sk_test_xxxxxxxxxxxxxxxxxxxxxxxx"],
        ..token(
            "stripe_test_key",
            "Stripe test-mode key",
            &["sk_test_", "rk_test_"],
            r"\b((?:sk|rk)_test_[A-Za-z0-9]{20,247})\b",
        )
    },
    Spec {
        examples: &["whsec_wUMRFPV0sbzYHLlbwoEdc2K3eI29OjdR"],
        counter_examples: &["whsec_CwGVvM2a9yHL"],
        ..token(
            "stripe_webhook_secret",
            "Stripe webhook signing secret",
            &["whsec_"],
            r"\b(whsec_[A-Za-z0-9]{32,})\b",
        )
    },
    Spec {
        examples: &["key=AIzaan6ushU08RkvQhgTffX442Frm4yPCLDHHnN"],
        counter_examples: &["AIzaMfy1tiod2nbFlYnvxTV5"],
        ..token(
            "google_api_key",
            "Google API key",
            &["AIza"],
            r"\b(AIza[0-9A-Za-z_\-]{35})(?:[^0-9A-Za-z_\-]|$)",
        )
    },
    Spec {
        examples: &["client secret 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"],
        counter_examples: &["GOCSPX-dMn6v7HjEC"],
        ..token(
            "google_oauth_client_secret",
            "Google OAuth client secret",
            &["GOCSPX-"],
            r"(GOCSPX-[A-Za-z0-9_\-]{28})",
        )
    },
    Spec {
        examples: &[
            "Bearer ya29._kH46d4EDJx99bJEoiUd3Dz2mOW73mVdsRO3v5W3NssveesovejJNN_pd460pv435GZ0NNaqFxU8DMpdyyP5je0iZKpUUH2bnYPOu4afU9d6Sf9JqEFbc655",
        ],
        counter_examples: &["ya29.Zw7cNzVIo2PC"],
        ..token(
            "google_oauth_access_token",
            "Google OAuth access token",
            &["ya29."],
            r"\b(ya29\.[0-9A-Za-z_\-]{30,})",
        )
    },
    Spec {
        reach: 3000,
        // The match starts at `"type"`, before the `"service_account"` trigger.
        reach_back: 24,
        examples: &[
            "{\n  \"type\": \"service_account\",\n  \"project_id\": \"demo-yexvyh\",\n  \"private_key_id\": \"acc3103374df49c3efead73f19e57626b4905956\",\n  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\n...\"\n}",
        ],
        counter_examples: &[
            "{\"type\": \"service_account\", \"project_id\": \"demo\", \"private_key_id\": \"your-private-key-id\"}",
            "{\"type\": \"authorized_user\", \"private_key_id\": \"d8e495d6dffc0d627cdb72d6abd3bbecabba1c9d\"}",
        ],
        ..token(
            "gcp_service_account_key",
            "GCP service account key file",
            &["\"service_account\""],
            r#""type"\s*:\s*"service_account"[\s\S]{0,400}?"private_key_id"\s*:\s*"([0-9a-f]{40})""#,
        )
    },
    Spec {
        reach: 8192,
        min_entropy: 0.0,
        validate: Some(private_key_body),
        examples: &[
            "-----BEGIN RSA PRIVATE KEY-----\nwo/wrippisI4U245qlrmRxehfq/6o/KSdjwjGMwzzi2alMASp45D8APX1dRcpnbM\nzF5SUVpwk6XnxXw0BsHYnocEREmMaAtPEEaHsYShH87XO5FF2WPso64d+vqTPMYY\n9BjdafRUCeI7x58J2lDqQFL114TQMquTJ2jxI6OAElsD32nDAx4W792QxAySs2TI\nxItozvr8lj5FvMkTUUYMK0xG1g/4WgzUuaFG0e/RUHCjO4NFJ0tfSw8TngXgvO/6\nzhYuhPFcfhNwAYf+8iTP2Yi9V0B6uVo1PCmr7torKwhpsoTeDqY4Gw115fZR61fW\n-----END RSA PRIVATE KEY-----",
        ],
        counter_examples: &[
            "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
            "-----BEGIN PUBLIC KEY-----\nRUsXcM9YrYkkihsSJK/4pCvGId3yuZroUIC7noaYRPYq06FvPz1yHHjCn/p+vlV0\n-----END PUBLIC KEY-----",
        ],
        ..token(
            "private_key",
            "Private key (PEM, OpenSSH, PGP)",
            &["-----BEGIN"],
            r"(-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----[\s\S]{32,8000}?-----END (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----)",
        )
    },
    Spec {
        reach: 4096,
        min_entropy: 0.0,
        examples: &[
            "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: eddsa-key-94848720\nPublic-Lines: 2\nQvCtAPlEIfhtz277bsOI+VtFJssnVltTf/PwXa2Xx8/V/Mm2LyCb/yXrMD8Cr0hk\nVyrTMoTN2WAm4KGldcjq\nPrivate-Lines: 1\nhlODndAzSleHPGfTqjLRRrJY2+l6YRWnmNe+gsnXTy08\nPrivate-MAC: c34d19bbbd37322425369408b4ce944ba369a1a834e4edc28afd25d56fd6e22d",
        ],
        counter_examples: &["PuTTY-User-Key-File-3: ssh-rsa"],
        ..token(
            "putty_private_key",
            "PuTTY private key",
            &["PuTTY-User-Key-File-"],
            r"(PuTTY-User-Key-File-[23]: [\s\S]{20,4000}?Private-Lines: \d+)",
        )
    },
    Spec {
        examples: &["AGE-SECRET-KEY-1EEULGD49548KFH7WPV9ZDGR82DVULFXCXLJV7JW7SEWK0P68H89YLZNNUC"],
        counter_examples: &[
            "AGE-SECRET-KEY-174CWAYAQK52GFCJP9M3FHHC3XFM5QJ",
            "AGE-SECRET-KEY-1BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
        ],
        ..token(
            "age_secret_key",
            "age secret key",
            &["AGE-SECRET-KEY-1"],
            r"(AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})",
        )
    },
    Spec {
        reach: 4096,
        validate: Some(kubernetes_service_account_jwt),
        context: &["kubernetes", "serviceaccount", "kubectl", "kubeconfig"],
        // Listed before `jwt`, which finds the same bytes: the more specific name wins.
        examples: &[
            "token: eyJhbGciOiJSUzI1NiIsImtpZCI6ImxfaDJkbGlZVkxJU1JUQWZZdlVROUczWWdCS0xpbWhSU3FEeU14V1dmZE8ifQ.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50Iiwia3ViZXJuZXRlcy5pby9zZXJ2aWNlYWNjb3VudC9uYW1lc3BhY2UiOiJkZWZhdWx0Iiwia3ViZXJuZXRlcy5pby9zZXJ2aWNlYWNjb3VudC9zZWNyZXQubmFtZSI6ImRlcGxveWVyLXRva2VuLW5rMTAwIiwic3ViIjoic3lzdGVtOnNlcnZpY2VhY2NvdW50OmRlZmF1bHQ6ZGVwbG95ZXIifQ.5K3YdCXDEuvZ607yMQaxubYdaHeoPV6rA-jHE_oujdfELq9dNU98RXErP8h97j9_77zivu_ols6MrFOFuUIRLc",
        ],
        counter_examples: &[
            "token: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJDcU5rQVV3VWN1M3YiLCJpYXQiOjE3MDAwMDAwMDB9.4N_FRBmTNR3BSHN53hpPF2rvYs6y6NQA31csG-cZz01",
        ],
        ..token(
            "kubernetes_service_account_token",
            "Kubernetes service account token",
            &["eyJ"],
            r"\b(eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{16,})",
        )
    },
    Spec {
        reach: 4096,
        validate: Some(jwt_header_is_json),
        min_entropy: 3.0,
        // The signature is optional: an unsigned token (`alg: none`) ends with its dot.
        examples: &[
            "t=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJpT0tpM2lmTVBEWmwiLCJuYW1lIjoiQWRhIiwiaWF0IjoxNzAwMDAwMDAwfQ.kjCAQHggFmxwtVxcyMN-IRkag5lw1A_-LJbOS3ICZC0",
            "unsigned eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJPOFI5OTJBdkFTeWUiLCJhZG1pbiI6dHJ1ZX0.",
        ],
        counter_examples: &[
            "eyJmb28iOiJiYXIifQ.eyJzdWIiOiIxIn0.Jsff8ABYK5rjcezrdQ3Ofbf58urgTYnOZ-AjSCdo21S",
            "cut eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJnalowQ25ielMyY2UifQ.",
        ],
        ..token(
            "jwt",
            "JSON Web Token",
            &["eyJ"],
            r"\b(eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.(?:[A-Za-z0-9_\-]{16,})?)",
        )
    },
    Spec {
        examples: &[
            "DefaultEndpointsProtocol=https;AccountName=acctop6pfl;AccountKey=rd/sAulhDP0CfFEvBKisTBhrB3kee0P1JQHFkCNR/SzLZaBjnyPRWePfDbhmtsG/w+w6dRy6oZa4aCE/CMe1kz==;EndpointSuffix=core.windows.net",
        ],
        counter_examples: &[
            "AccountKey=qdrzhx2QGFkG0/NUU/KZwZOy4pVtPvE7t0EqGzgS==",
            "AccountKey=<your-account-key>",
        ],
        ..token(
            "azure_storage_account_key",
            "Azure storage account key",
            &["AccountKey="],
            r"AccountKey=([A-Za-z0-9/+]{86}==)",
        )
    },
    Spec {
        reach: 400,
        examples: &[
            "https://acct.blob.core.windows.net/c/f.txt?sv=2022-11-02&ss=b&srt=o&sp=r&se=2026-01-01T00:00:00Z&sig=MsNAGpb4RTYT9W6cM4bVsOEJkIcGFdKULZ3NstbcOU9%3D",
        ],
        counter_examples: &["sig=abc123", "?sv=2022-11-02&sig=<signature>"],
        ..token(
            "azure_sas_token",
            "Azure shared access signature",
            &["sig="],
            r"(?:sv=\d{4}-\d{2}-\d{2}[^\s]{0,300}?sig=|sig=)([A-Za-z0-9%/+]{40,100}(?:%3D|=){0,2})",
        )
    },
    Spec {
        reach_back: 8,
        examples: &[
            "AZURE_CLIENT_SECRET=neJ8Q~DTK7axd6DAcvG.Egdf~syojAtzT9NDaSX4",
            "secret: rYw3Q~uJsGN6bnqty1eP0FxSX50K3ceNTM8ro",
        ],
        counter_examples: &[
            "3Pu8Q~4YQpPuOL4ycygYZgjfxY",
            "uwv8Q~xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        ],
        ..token(
            "azure_ad_client_secret",
            "Azure AD (Entra) client secret",
            &[
                "0Q~", "1Q~", "2Q~", "3Q~", "4Q~", "5Q~", "6Q~", "7Q~", "8Q~", "9Q~",
            ],
            r"(?:^|[^A-Za-z0-9_~.\-])([A-Za-z0-9_~.\-]{3}[0-9]Q~[A-Za-z0-9_~.\-]{31,34})(?:[^A-Za-z0-9_~.\-]|$)",
        )
    },
    Spec {
        examples: &["//registry.npmjs.org/:_authToken=npm_F5aAqzQccxv6NR6Vbkx8PxHSmlypx6l0K7E9"],
        counter_examples: &[
            "npm_mlRrHBhV9KXNKAD8QmwB",
            "npm_install_dependencies_for_the_workspace",
        ],
        ..token(
            "npm_token",
            "npm access token",
            &["npm_"],
            r"\b(npm_[A-Za-z0-9]{36})\b",
        )
    },
    Spec {
        // `.npmrc` lines: `//registry.npmjs.org/:_authToken=<uuid>`. Before `npm_` tokens
        // npm issued bare UUIDs; the key name is what says it is a credential.
        min_entropy: 3.0,
        base: Confidence::High,
        boosted: Confidence::High,
        examples: &["//registry.npmjs.org/:_authToken=b6bfbf80-74c6-42f9-b4d9-2e90a21a587e"],
        counter_examples: &[
            "//registry.npmjs.org/:_authToken=${NPM_TOKEN}",
            "_authToken=00000000-0000-0000-0000-000000000000",
        ],
        ..named(
            "npm_legacy_token",
            "npm legacy auth token (.npmrc)",
            &["_authtoken"],
            r"(?i:_authToken)[ \t]*=[ \t]*[\x22']?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b",
        )
    },
    Spec {
        examples: &[
            "password = pypi-AgEIcHlwaS5vcmcf53VxF4nSN6zmp6a5ionsp9pDHi617lh7cm6EUbs4eHOVwzNDKcCTC9qH2QVB7YMYFPrB8",
        ],
        counter_examples: &["pypi-AgEIcHlwaS5vcmcI6SAq2qmXd"],
        ..token(
            "pypi_token",
            "PyPI upload token",
            &["pypi-AgEIcHlwaS5vcmc"],
            r"(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,})",
        )
    },
    Spec {
        examples: &["dckr_pat_ax2Gp1IupYtMzvoaO_9w8G1nEem"],
        counter_examples: &["dckr_pat_MprZuL3jU4"],
        ..token(
            "dockerhub_token",
            "Docker Hub personal access token",
            &["dckr_pat_", "dckr_oat_"],
            r"\b(dckr_(?:pat|oat)_[A-Za-z0-9_\-]{27,})",
        )
    },
    Spec {
        examples: &[
            "DIGITALOCEAN_TOKEN=dop_v1_667775ccb2547b0287843380fef3c95bc9742789bffb379ac7b36563062d875b",
        ],
        counter_examples: &["dop_v1_5e5ba54a09e2818573243519ebcbe647a544910c"],
        ..token(
            "digitalocean_token",
            "DigitalOcean token",
            &["dop_v1_", "doo_v1_", "dor_v1_"],
            r"\b(do[opr]_v1_[a-f0-9]{64})\b",
        )
    },
    Spec {
        examples: &["dapie8b7ea4955f52fefb05565b1bfeb7ac1"],
        counter_examples: &["dapi3b681d99eedb7c7482eb", "dapiD0DEC9CEC8B1E3D9BB5B440318D19F18"],
        ..token(
            "databricks_token",
            "Databricks token",
            &["dapi"],
            r"\b(dapi[a-f0-9]{32}(?:-\d)?)\b",
        )
    },
    Spec {
        examples: &[
            "VAULT_TOKEN=hvs.Tmy4pk6gjY7cDhGEJRG8V85M3hogXCgiHw4zxofsZ4xh9H96PuQssDb3Y-Ef4w9Chada3UHeUwrRnWrLn_cniYhELv",
        ],
        counter_examples: &["hvs.short", "hvs.xxxxxxxxxxxxxxxxxxxxxxxxxxxx"],
        ..token(
            "hashicorp_vault_token",
            "HashiCorp Vault token",
            &["hvs.", "hvb.", "hvr."],
            r"\b(hv[sbr]\.[A-Za-z0-9_\-]{24,})",
        )
    },
    Spec {
        // The trigger is the `.atlasv1.` in the middle of the token.
        reach_back: 16,
        examples: &[
            "token = \"8E3G75Lkltoblj.atlasv1.l87VKRgMIXTD3UdQW6-LJzxP8VmppfWqjC-oYc9qQ___XUA7KQ2hBW1G6zpSsPGDd0p\"",
        ],
        counter_examples: &["gGpCcgsvBG6yvk.atlasv1.B5lhDaHlaY"],
        ..token(
            "terraform_cloud_token",
            "Terraform Cloud token",
            &[".atlasv1."],
            r"\b([A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_\-=]{60,70})",
        )
    },
    Spec {
        reach_back: 0,
        examples: &[
            "OPENAI_API_KEY=sk-proj-dRJ6FqBGbcEclakfOwP8Q4HeBt2_V0N-_VzvqYXdvjmKBRPDVKT-l188PfafLBRrIA2k6-ca8dZ5dfNUnXXh6_FFW3OWoProABjmuA02gVPkRu6WSY20uLHJ",
        ],
        counter_examples: &["sk-proj-a0I1iUxPbO"],
        ..token(
            "openai_api_key",
            "OpenAI API key",
            &["sk-proj-", "sk-svcacct-", "sk-admin-", "T3BlbkFJ"],
            r"\b(sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,200}|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})",
        )
    },
    Spec {
        reach_back: 64,
        examples: &["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"],
        counter_examples: &["sk-il6m4CNDMoFBIyD1sDs4T3BlbkFJvIYB2"],
        ..token(
            "openai_legacy_key",
            "OpenAI legacy key (T3BlbkFJ marker)",
            &["T3BlbkFJ"],
            r"\b(sk-[A-Za-z0-9_\-]{16,60}T3BlbkFJ[A-Za-z0-9_\-]{16,60})",
        )
    },
    Spec {
        examples: &[
            "ANTHROPIC_API_KEY=sk-ant-api03-O_ZB9jm5Eq1D69RK_kDecJkrbrc1HQwEU0shpLw1MaKgqsYxZ8HFf_IHR8qQdkWqrKJFMnrsYYhxz3owaHTSTVZot1GQVAA",
        ],
        counter_examples: &["sk-ant-api03-Y576IFoo8XTy3pim8mpo"],
        ..token(
            "anthropic_api_key",
            "Anthropic API key",
            &["sk-ant-"],
            r"\b(sk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_\-]{80,120})",
        )
    },
    Spec {
        examples: &[
            "HF_TOKEN=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",
            "org token 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",
        ],
        counter_examples: &[
            "hf_NbUxGFMftkawkSFGeBMH",
            "hf_gyhbQKwqreQoxWeLlRRmezvYeAuhAJSKBhxBDszq",
        ],
        ..token(
            "huggingface_token",
            "Hugging Face user or organization token",
            &["hf_", "api_org_"],
            r"\b((?:hf_|api_org_)[A-Za-z]{34})\b",
        )
    },
    Spec {
        reach_back: 12,
        context: &["telegram"],
        // Listed before `telegram_bot_token`, which finds the same bytes in a bot URL.
        examples: &[
            "https://api.telegram.org/bot3688000910:AADezY04ZXfLQwMhmkXBJab5LwWW8qYwubs/sendMessage",
        ],
        counter_examples: &["https://api.telegram.org/bot7316826260:2B0LMcZtkWHQw7zphapr/getMe"],
        ..token(
            "telegram_bot_token_alt",
            "Telegram bot token (bot URL)",
            &["api.telegram.org/bot"],
            r"api\.telegram\.org/bot(\d{8,10}:[A-Za-z0-9_\-]{35})(?:[^A-Za-z0-9_\-]|$)",
        )
    },
    Spec {
        // The trigger is the `:AA` after the bot id: the id is reached back to. The shape
        // is strict (id, `:AA`, 33 characters) but short: high only with a word of the
        // vendor near.
        reach_back: 11,
        base: Confidence::Medium,
        context: &["telegram", "bot_token", "bot token", "botfather"],
        examples: &[
            "TELEGRAM_BOT_TOKEN=3937068636:AA6TjyWD7nyJYkS8HxmjN5dcu1_XsO13w9V",
            "517257549:AAKqAXeWdQydRV50vxOR1DR_yTK9M41NMlc",
        ],
        counter_examples: &[
            "1578967395:AAPKGYSRW8TLxD9J6GoRqn",
            "id7921496965:AAZowmlnK1Psmt315N7dnlHH09rz1lagSJy",
        ],
        ..token(
            "telegram_bot_token",
            "Telegram bot token",
            &[":AA"],
            r"(?:^|[^0-9A-Za-z_\-])([0-9]{8,10}:AA[A-Za-z0-9_\-]{33})(?:[^A-Za-z0-9_\-]|$)",
        )
    },
    Spec {
        // The trigger is the host name: the scheme and subdomain are reached back to.
        reach_back: 16,
        examples: &[
            "https://discord.com/api/webhooks/4270853046400125822/rcTK1oWe8KC3cBGqvy2_Zns_0UwNuOkW2615Sb0294DzUyMcNXXII3CwWOOXxrews604",
        ],
        counter_examples: &[
            "https://discord.com/api/webhooks/9548929650875164894/SaAG7hp8Mj3ml5d7EJNDLHDoQGPLer",
        ],
        ..token(
            "discord_webhook_url",
            "Discord webhook",
            &["discord.com/api/webhooks/", "discordapp.com/api/webhooks/"],
            r"(https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d{17,20}/[A-Za-z0-9_\-]{60,68})(?:[^A-Za-z0-9_\-]|$)",
        )
    },
    Spec {
        examples: &[
            "ATATT3xFfGF08qesJGo9zVtyfpwGU1FSKDuc9hF8WQgE1aRFdRdihM0MdLV2x-Run5BLYR8Z5JSJYz-EDR8yLUHLoLBABycB6JAgGRUtB7_-d5e-0yBTLqJdMW5YkitcOeBz5ucoaOhebsegF2kpT6jp3TQ_dz1T1mKyioRl7rGcG74Rc-jPKsm5LQqfjkhK=dd1ac3bc",
        ],
        counter_examples: &["ATATT3psi58dzFxkV0PFMxezhBvGkCBuKjaasipKWTZhVPL7TssQ1M7v"],
        ..token(
            "atlassian_api_token",
            "Atlassian API token",
            &["ATATT3"],
            r"\b(ATATT3[A-Za-z0-9_\-=]{180,})",
        )
    },
    Spec {
        examples: &["lin_api_gTgWjOX6meUezG1ICZqufZpAAdxkBVtk8OO6HBaV"],
        counter_examples: &["lin_api_TJFDey1NJuJnEr2O2PN4"],
        ..token(
            "linear_api_key",
            "Linear API key",
            &["lin_api_"],
            r"\b(lin_api_[A-Za-z0-9]{40})\b",
        )
    },
    Spec {
        examples: &["PMAK-31f730e263f66aac27a65a39-059862dd2a64aae121ca4ec6801f72b002"],
        counter_examples: &["PMAK-729fbc2f36b3c9def8249a74"],
        ..token(
            "postman_api_key",
            "Postman API key",
            &["PMAK-"],
            r"\b(PMAK-[a-f0-9]{24}-[a-f0-9]{34})\b",
        )
    },
    Spec {
        examples: &["NRAK-UK73RVBY0FFG21XQVF0Q6PE1MA1"],
        counter_examples: &["NRAK-M74QBWOCFV"],
        ..token(
            "newrelic_user_key",
            "New Relic user API key",
            &["NRAK-"],
            r"\b(NRAK-[A-Z0-9]{27})\b",
        )
    },
    Spec {
        examples: &["NRII-j8KSlnX39_2GBrQ2k6ReaAoFYCQuzgTn"],
        counter_examples: &["NRII-RGdg9vpsMX"],
        ..token(
            "newrelic_insert_key",
            "New Relic insert key",
            &["NRII-"],
            r"\b(NRII-[A-Za-z0-9_\-]{32})",
        )
    },
    Spec {
        examples: &["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"],
        counter_examples: &["SG.aeOcB3iXGN.cOlUK1iy95"],
        ..token(
            "sendgrid_api_key",
            "SendGrid API key",
            &["SG."],
            r"\b(SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})",
        )
    },
    Spec {
        // The trigger is the data-centre suffix (`-us6`): the 32 hex digits are before it.
        reach_back: 33,
        examples: &[
            "MAILCHIMP_API_KEY=7b6eb5676a9ffaa29fe843cea979bd9e-us14",
            "key e176290501bed58ab39360627a24a2da-us6",
        ],
        counter_examples: &[
            "999459ae1c884eae2d34523bf675b10-us14",
            "10da1baa34b2ca3bfd51637256fbbe29-us123",
        ],
        ..token(
            "mailchimp_api_key",
            "Mailchimp API key",
            &["-us"],
            r"\b([0-9a-f]{32}-us\d{1,2})\b",
        )
    },
    Spec {
        reach_back: 48,
        examples: &["MAILGUN_API_KEY=key-1sngd614kllcqnjx66xqpsems5esidn1"],
        counter_examples: &[
            "mailgun key-pvgidzqh3zmvt45xkrcl",
            "key-nhe75eixzn6jyoga1aik77y568nv48cx",
        ],
        ..token(
            "mailgun_api_key",
            "Mailgun API key",
            &["key-"],
            r"(?i:mailgun)[\s\S]{0,40}?\b(key-[0-9a-z]{32})\b",
        )
    },
    Spec {
        examples: &["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"],
        counter_examples: &["shpat_27d7076cfd6f31f1c45a757ccd38509"],
        ..token(
            "shopify_token",
            "Shopify access token",
            &["shpat_", "shpca_", "shppa_", "shpss_"],
            r"\b(shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})\b",
        )
    },
    Spec {
        examples: &[
            "sq0atp-iSWoTtvV-7Wj_ga1jGvABc",
            "EAAALi4sEN85rAYlCqgrZ2qppSx3rp3TMyJ8_S3YhfwsyfxVSFjD3EAHkyVDocYF",
        ],
        counter_examples: &["sq0atp-Kf7nE2rgqo"],
        ..token(
            "square_token",
            "Square access token or secret",
            &["sq0atp-", "sq0csp-", "EAAA"],
            r"\b(sq0(?:atp|csp)-[0-9A-Za-z_\-]{22,43}|EAAA[A-Za-z0-9_\-]{60})",
        )
    },
    Spec {
        examples: &["access_token$production$4oh9ej7rm6lvntog$a26669cc2dc1be36114908557cdbffd9"],
        counter_examples: &["access_token$production$abc$def"],
        ..token(
            "braintree_access_token",
            "PayPal Braintree access token",
            &["access_token$production$"],
            r"(access_token\$production\$[0-9a-z]{16}\$[0-9a-f]{32})",
        )
    },
    Spec {
        examples: &["pscale_tkn_EV_ZQ24RvqZ08KCkbRr_WjAH3yHF15CQ95ZEMheg9dt"],
        counter_examples: &["pscale_tkn_hlfhxQtwI5"],
        ..token(
            "planetscale_token",
            "PlanetScale token or password",
            &["pscale_tkn_", "pscale_pw_", "pscale_oauth_"],
            r"\b(pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_\-.=]{32,64})",
        )
    },
    Spec {
        examples: &["sbp_30a0fbeab5a4b34fc8383959d1da11afc595ed0d"],
        counter_examples: &["sbp_c7e34af6168ababcd35c"],
        ..token(
            "supabase_token",
            "Supabase access token",
            &["sbp_"],
            r"\b(sbp_[a-f0-9]{40})\b",
        )
    },
    Spec {
        examples: &["rubygems_3dfc4e90dda104dbfae75dbfe7ad270ca053894d7188789f"],
        counter_examples: &["rubygems_e00caf57b1cb4571b21e"],
        ..token(
            "rubygems_api_key",
            "RubyGems API key",
            &["rubygems_"],
            r"\b(rubygems_[a-f0-9]{48})\b",
        )
    },
    Spec {
        // `oy2` is a short prefix over a lower-case alphabet: high only near the name.
        base: Confidence::Medium,
        context: &["nuget"],
        examples: &[
            "nuget push -k oy2l1xtz5vw4dswkn6zsmqmh7582oe7fiv37v8ktix2hoh",
            "oy246nracv0ipf8h4f3odmh0hj02yyp9p3qvrp5sivn0bh",
        ],
        counter_examples: &["oy28nemdq9qk1qi1dk3wrp3"],
        ..token(
            "nuget_api_key",
            "NuGet API key",
            &["oy2"],
            r"\b(oy2[a-z0-9]{43})\b",
        )
    },
    Spec {
        min_entropy: 2.5,
        validate: Some(literal_value),
        context: &["nuget", "packagesourcecredentials"],
        examples: &["<add key=\"ClearTextPassword\" value=\"cVuKNcGULizKS1q1\" />"],
        counter_examples: &[
            "<add key=\"ClearTextPassword\" value=\"%NUGET_PASSWORD%\" />",
            "<add key=\"ClearTextPassword\" value=\"${NUGET_PASS}\" />",
        ],
        ..named(
            "nuget_cleartext_password",
            "NuGet.Config clear-text password",
            &["cleartextpassword"],
            r#"(?i:ClearTextPassword"\s+value\s*=\s*")([^"\r\n]{4,128})""#,
        )
    },
    Spec {
        examples: &["CLOJARS_kobdav6j91g0j15qfsyhrp0xe0xyt0hvmuiea1x9fah8fv6jzoyq4ysb5atw"],
        counter_examples: &["CLOJARS_u0gnnl68tnp0icumq880"],
        ..token(
            "clojars_token",
            "Clojars deploy token",
            &["CLOJARS_"],
            r"\b(CLOJARS_[a-z0-9]{60})\b",
        )
    },
    Spec {
        examples: &["DOPPLER_TOKEN=dp.pt.k3PDrrA63HJUoyjpNiVRom8opaSC03EwaYl2e1FcjsK"],
        counter_examples: &["dp.pt.EIhfKtvJDm"],
        ..token(
            "doppler_token",
            "Doppler token",
            &["dp.st.", "dp.ct.", "dp.pt.", "dp.sa."],
            r"\b(dp\.(?:st|ct|pt|sa|scim|audit)\.[A-Za-z0-9_\-]{40,44})",
        )
    },
    Spec {
        examples: &["pul-098bca7b4f1dee518fe04180fe68d6dccf67592c"],
        counter_examples: &["pul-059af105dda55ddcb7ce"],
        ..token(
            "pulumi_token",
            "Pulumi access token",
            &["pul-"],
            r"\b(pul-[a-f0-9]{40})\b",
        )
    },
    Spec {
        examples: &[
            "glc_i43zRCMqlfkvUX+Ov5RZYzCQbbS7tL1uyiFFuAaWHgD2XXMgRSZEAmo1ZU1XMASsG34IcIpIv3ie5hol",
            "glsa_uVrDs0gPkyJ4ZkswzZUvRAKdvo6NsO3m_392a4d1f",
        ],
        counter_examples: &["glc_4fFLRwGkbN", "glsa_2I3aHxl2aQe2I8ygYLGRGGSr1kBZutfd"],
        ..token(
            "grafana_token",
            "Grafana Cloud or service account token",
            &["glc_", "glsa_"],
            r"\b(glc_[A-Za-z0-9+/]{32,400}={0,2}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})",
        )
    },
    Spec {
        // The trigger is `:APA91b` in the middle of the key.
        reach_back: 12,
        examples: &[
            "key=AAAAhkqmqgc:APA91bFjFBx_HRTlDBcSkNLprl1SzuLo1ah1idgqfq5D6mnrU9C8LN1UgLfFx1L25UnsOQq3DIKM6sh4VQIp00E68Rt6NRB3lw0LVFJWNMANBCChuKF7GWN-Sd7R6R2-67vJvf-DwSuQ",
        ],
        counter_examples: &["AAAAym20b3z:APA91b6nbwTsM0W7X81kGHDjAq"],
        ..token(
            "firebase_fcm_server_key",
            "Firebase Cloud Messaging server key",
            &[":APA91b"],
            r"\b(AAAA[A-Za-z0-9_\-]{7}:APA91b[A-Za-z0-9_\-]{134})",
        )
    },
    Spec {
        reach_back: 0,
        examples: &[
            "EAAB8yYlHfkb6ksHndKO0dDEYQxgoeqFUkdFrHWKiuCSyHJMOAI7i4heygQR8MipZbmvXuqNO71pLubLg8P2qxJ11SVxVGTBHk2L4jFwQjwrmSdT2ePgx4kfgU4n",
        ],
        counter_examples: &["EAAB0K5PMBb00Xlz1ZNNB7Ag"],
        ..token(
            "facebook_access_token",
            "Facebook access token",
            &["EAACEdEose0cBA", "EAAB", "EAAG"],
            r"\b(EAA(?:CEdEose0cBA|B|G)[0-9A-Za-z]{80,255})",
        )
    },
    Spec {
        // The leading run of `A`s would read as a mask: the rest is checked instead.
        secret: false,
        validate: Some(random_besides_padding),
        examples: &[
            "Bearer AAAAAAAAAAAAAAAAAAAAAAEWFSeLGaHZrls79FBaykG4i9fRbi%GNuXdG3133Q6pXykFpSLQw5b0hw1nwPro3CmsaYY1RnRYYhoNyH4VgexW%lc7",
        ],
        counter_examples: &[
            "AAAAAAAAAAAAAAAAAAAAAAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ],
        ..token(
            "twitter_bearer_token",
            "Twitter/X bearer token",
            &["AAAAAAAAAAAAAAAAAAAAA"],
            r"\b(A{20,24}[A-Za-z0-9%]{80,130})\b",
        )
    },
    Spec {
        examples: &["LTAIxknBponBX2RyBniLi70q"],
        counter_examples: &["LTAIOaIIdpjg"],
        ..token(
            "alibaba_access_key_id",
            "Alibaba Cloud AccessKey ID",
            &["LTAI"],
            r"\b(LTAI[A-Za-z0-9]{12,20})\b",
        )
    },
    Spec {
        examples: &["FLWSECK-15865b0d34864df7e545d84732f93125-X"],
        counter_examples: &["FLWSECK-8bd5b6be7bf7d402fdbe-X"],
        ..token(
            "flutterwave_secret_key",
            "Flutterwave secret key",
            &["FLWSECK-", "FLWSECK_TEST-"],
            r"\b(FLWSECK(?:_TEST)?-[a-h0-9]{32}-X)",
        )
    },
    Spec {
        examples: &["EZAKlacvCSfzALt0VKeSizK7OJjqx3Hxf7zCoeThgibOYFCK82xdMWStub"],
        counter_examples: &["EZAKIJFaqu36LrxJhL8voy9G"],
        ..token(
            "easypost_api_key",
            "EasyPost API key",
            &["EZAK", "EZTK"],
            r"\b(EZ[AT]K[a-zA-Z0-9]{54})\b",
        )
    },
    Spec {
        examples: &["shippo_live_30e13a97a286cb9be4d23829aebea9fb67936e04"],
        counter_examples: &["shippo_live_1cd0bbf0247b4fdf21e8"],
        ..token(
            "shippo_api_token",
            "Shippo API token",
            &["shippo_live_"],
            r"\b(shippo_live_[a-f0-9]{40})\b",
        )
    },
    Spec {
        examples: &[
            "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",
            "sntrys_hgF8r0mT3WsdKMgQXVp5lSzF9wS5AY8r9W03V8ql5Cjz8yVvU1Bj2raStNdRUdu1tZkyM3XFea1925X88gdWSSxiEDyZz43KB8t9",
        ],
        counter_examples: &["sntryu_b73c9b3a0cd817f3c685"],
        ..token(
            "sentry_auth_token",
            "Sentry auth token",
            &["sntrys_", "sntryu_"],
            r"\b(sntry[su]_[A-Za-z0-9_=+/]{64,})",
        )
    },
    Spec {
        examples: &["fo1_b_4eK_hfoM0lROUJfUOiqwNUKgKCMs3ahR9BPEu5AAR"],
        counter_examples: &["fo1_4XiovkrIWUH7JLXyDkGc"],
        ..token(
            "fly_io_token",
            "Fly.io access token",
            &["fo1_", "FlyV1 fm2_"],
            r"\b(fo1_[A-Za-z0-9_\-]{43}|FlyV1 fm2_[A-Za-z0-9+/=_,\-]{100,})",
        )
    },
    Spec {
        examples: &["rnd_l4G7QLPRtPhI48WscvMVnV2OS1hUPa60"],
        counter_examples: &["rnd_dfrXB4KnzA20L0LNqR2K"],
        ..token(
            "render_api_key",
            "Render API key",
            &["rnd_"],
            r"\b(rnd_[A-Za-z0-9]{32})\b",
        )
    },
    Spec {
        examples: &["pnu_9w1qaZ3tKAl5wDNFoRbmpmnNWgcCiQV2Pr1W"],
        counter_examples: &["pnu_eg7LC0EjE3SFu2EQYe48"],
        ..token(
            "prefect_api_key",
            "Prefect API key",
            &["pnu_"],
            r"\b(pnu_[A-Za-z0-9]{36})\b",
        )
    },
    Spec {
        examples: &["rdme_1sfto8w0cw2v1mf5d8bcmnnfzsiqjq142sxs17euxi7k2s1a908lnyw4nhjoa0j6g2jt4c"],
        counter_examples: &["rdme_jsbw0vm956jf9kpsumryj01u2p9dy5"],
        ..token(
            "readme_api_key",
            "ReadMe API key",
            &["rdme_"],
            r"\b(rdme_[a-z0-9]{70})\b",
        )
    },
    Spec {
        examples: &["tk-us-R_RlVFcF3o36i7aJL6eJnYmvaqSuEivHPnGaEXvKwO5knwPa"],
        counter_examples: &["tk-us-tXiKco98qczl2Gqn3csY"],
        ..token(
            "scalingo_token",
            "Scalingo API token",
            &["tk-us-"],
            r"\b(tk-us-[A-Za-z0-9_\-]{48})",
        )
    },
    Spec {
        examples: &["fio-u-v_tPTTB1-UX1c1DwXd5X91WI5-So0sqbOoVvhIs0PNZP3mIkg-kgIRo8BsKaRGZW"],
        counter_examples: &["fio-u-e0LUWKx6dIib2PqLYu9r"],
        ..token(
            "frameio_token",
            "Frame.io API token",
            &["fio-u-"],
            r"\b(fio-u-[A-Za-z0-9_\-=]{64})",
        )
    },
    Spec {
        examples: &[
            "dt0c01.ZNP8RSS4DJYSQGLXOCMP0R3J.5JHN38PFGQEKM1DVOO9XH6QKK5GCNZU5OXF1DLOWWD4WMC0WRH13360Q82YE7UHJ",
        ],
        counter_examples: &["dt0c01.WS33MW4RSJJPHJMEMCNDX1WD"],
        ..token(
            "dynatrace_token",
            "Dynatrace API token",
            &["dt0c01."],
            r"\b(dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64})\b",
        )
    },
    Spec {
        examples: &["CFPAT-6LWywETlKOymIDT4Z86BLYvrv64WkU7RQ4-ZBIvSkkF"],
        counter_examples: &["CFPAT-IDGHUdkNkT7tknKcnUFx"],
        ..token(
            "contentful_token",
            "Contentful delivery token",
            &["CFPAT-"],
            r"\b(CFPAT-[A-Za-z0-9_\-]{43})",
        )
    },
    Spec {
        examples: &["dG9rOjJF2SHH4EzU-R0X8h_xoPIC6ML1_gvgnS2_i55fnqo9c4nuqkE3"],
        counter_examples: &["dG9rOj5CkjfEDdda"],
        ..token(
            "intercom_token",
            "Intercom access token",
            &["dG9rOj"],
            r"\b(dG9rOj[A-Za-z0-9_\-=]{40,})",
        )
    },
    Spec {
        examples: &["aio_d0PLOwHfCEbV4OVIUAxbTFS3lSD9"],
        counter_examples: &["aio_CnjLzERSMU1q"],
        ..token(
            "adafruit_io_key",
            "Adafruit IO key",
            &["aio_"],
            r"\b(aio_[A-Za-z0-9]{28})\b",
        )
    },
    Spec {
        min_entropy: 2.5,
        reach: 300,
        reach_back: 24,
        validate: Some(url_password_literal),
        after_trigger: Some(userinfo_follows),
        examples: &[
            "DATABASE_URL=postgres://app:oTi10HJzzuRXfMkd@db.internal:5432/app",
            "redis://:iAUoXTUzREg9rgKzi40u@cache.internal:6379/0",
        ],
        counter_examples: &[
            "postgres://app:${DB_PASSWORD}@db:5432/app",
            "https://user:<password>@host.example",
            "mysql://root:db_password@localhost/app", "smtp://[user[:password]@]host[:port]", "https://username:password@pypi.company.com/simple", "git fetch http://user:pass@host/repo",],
        ..token(
            "url_credentials",
            "Credentials in a URL or connection string",
            &["://"],
            r"\b((?:https?|ftp|ftps|sftp|ssh|postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|redis|rediss|amqps?|mssql|sqlserver|jdbc:[a-z]+|ldaps?|smtp)://[^\s:/@?#]{0,64}:([^\s:/@?#]{3,128})@[A-Za-z0-9.\-\[\]]{2,255})",
        )
    },
    Spec {
        examples: &["twilio api key SKd78704a1b40992dbb43fd7f6772e5e3d"],
        counter_examples: &[
            "twilio SK0e02638ffd3bfc83a2462b11b73b5f4",
            "SK54f2a26ad0727e2dc784927b799d24fe",
        ],
        ..named(
            "twilio_api_key",
            "Twilio API key",
            &["twilio"],
            r"(?i:twilio)[\s\S]{0,60}?\b(SK[0-9a-fA-F]{32})\b",
        )
    },
    Spec {
        examples: &["TWILIO_AUTH_TOKEN=defc7da284ccfb69a50427b2d6bfd4d5"],
        counter_examples: &["TWILIO_AUTH_TOKEN=a4e1a128071f1d2164816b64c9f1ae7"],
        ..named(
            "twilio_auth_token",
            "Twilio auth token",
            &["twilio_auth_token", "twilio auth token", "authtoken"],
            r#"(?i:twilio_auth_token|twilio auth token|authtoken)["']?\s*[:=]\s*["']?([0-9a-f]{32})\b"#,
        )
    },
    Spec {
        examples: &[
            "HEROKU_API_KEY=abcf48a4-93d6-45b1-87fb-c2ddb5bd23f0",
            "heroku api key: 16b62220-6990-4aa0-b110-5d3f9c52f630",
        ],
        counter_examples: &[
            "https://dashboard.heroku.com/apps/fda8b64f-7b8c-4c6d-a16c-abf6cbabc6a3/settings",
            "heroku app id bc721b7c-4fa5-46c4-8ebf-29e78434e961",
        ],
        ..named(
            "heroku_api_key",
            "Heroku API key",
            &["heroku"],
            // Heroku API keys are bare UUIDs: only one assigned to a heroku key name (or given
            // to `heroku` on a command line) is one; a UUID in a dashboard URL is an app id.
            r#"(?i:heroku[A-Za-z0-9_\- ]{0,16}?(?:key|token|auth)[A-Za-z_]{0,8})["'\]]?[ \t]*(?::=|=>|[:=]|[ \t])[ \t]*["']?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\b"#,
        )
    },
    Spec {
        examples: &["DD_API_KEY=cc42f2e55735bea0bad3ca0a2e125d73"],
        counter_examples: &["datadog 10e53494fbb7ec0eaac5552b5f30491"],
        ..named(
            "datadog_api_key",
            "Datadog API or application key",
            &["datadog", "dd_api_key", "dd_app_key", "dd-api-key"],
            r"(?i:datadog|dd_api_key|dd_app_key|dd-api-key)[\s\S]{0,60}?\b([a-f0-9]{32}|[a-f0-9]{40})\b",
        )
    },
    Spec {
        // `00` and 40 random characters, next to "okta" or in an `SSWS` header; the whole
        // run must be 42 characters (not a piece of a longer identifier) and mixed-case.
        validate: Some(okta_token),
        examples: &[
            "Authorization: SSWS 00yrabdV2YKt9lWZnQuSWKG7C2QkfDA6zM6N9iGIpq",
            "OKTA_API_TOKEN=00qVxp3FmscMnpXBBQYyRdfg74ro6zB1x8s4cSprIu",
        ],
        counter_examples: &[
            "okta 00db98864edf1aa43ae9261a18352d97fd4f398f7a",
            "okta id 00137kzuOWZoAWGi3wadR778q1Y8Tlw24gPJHYkmYIDWIHLVTI6h4wybfDRzlU",
            "00ph1csNBo0qSt6nc0mLAN0sBYGgGS3sAqVbyJj6hA",
        ],
        ..named(
            "okta_api_token",
            "Okta API token",
            &["okta", "ssws"],
            r"(?i:okta|ssws)[\s\S]{0,60}?(?:^|[^A-Za-z0-9_\-])(00[A-Za-z0-9_\-]{40})(?:[^A-Za-z0-9_\-]|$)",
        )
    },
    Spec {
        // A commit hash next to the word (`cloudflare/workers-sdk@<sha>`) is not a token.
        validate: Some(not_a_digest),
        examples: &[
            "CLOUDFLARE_API_TOKEN=MgKSdK_Cy-vqTgKyJcnwqMaN5UMgT081SHgzzoU1",
            "cloudflare global key e7b3a54fb2cb7fa73f92611a97c80602d88a1",
        ],
        counter_examples: &[
            "cloudflare/workers-sdk commit e6001967ec622d457f63167e3d2f3f673fad197b",
            "cloudflare J2cSLIPODa07f3UgLDyk3j2KOQ9y7T",
        ],
        ..named(
            "cloudflare_api_token",
            "Cloudflare API token or key",
            &["cloudflare", "cf_api_token", "cf_api_key"],
            r"(?i:cloudflare|cf_api_token|cf_api_key)[\s\S]{0,60}?(?:^|[^A-Za-z0-9_\-])([A-Za-z0-9_\-]{40}|[a-f0-9]{37})(?:[^A-Za-z0-9_\-]|$)",
        )
    },
    Spec {
        examples: &["CCIPAT_GQPL9S6JPLUbxBzR1CjulR_e011889fcfad680ccc631372f144731051abcc3e"],
        counter_examples: &["CCIPAT_Czy21C2oxj"],
        ..token(
            "circleci_token",
            "CircleCI personal API token",
            &["CCIPAT_"],
            r"\b(CCIPAT_[A-Za-z0-9]{22}_[a-f0-9]{40})\b",
        )
    },
    Spec {
        examples: &[
            "CIRCLECI_TOKEN=d370b714d9ba974421d31cf674fa9304be3ad919",
            "circle-token: d6f3ca01316229146329c6f98ab6da7ead800bf9",
        ],
        counter_examples: &["circleci build of commit f994fe66a5d8ad9fb6b9912cefbccf04a41b554d"],
        ..named(
            "circleci_legacy_token",
            "CircleCI legacy API token",
            &["circleci", "circle_token", "circle-token"],
            // 40 hex digits, the shape of a commit hash: only one assigned to a CircleCI token
            // name counts, not a commit that a CircleCI log mentions.
            r#"(?i:circle(?:ci)?[_\-]?(?:api[_\-]?)?token)["'\]]?[ \t]*(?::=|=>|[:=])[ \t]*["']?([a-f0-9]{40})\b"#,
        )
    },
    Spec {
        validate: Some(letters_and_digits),
        examples: &["VERCEL_TOKEN=j2DZ4HZrkYtw87kOYZyq8LqK"],
        counter_examples: &["vercel --token deploymentsettingsforweb", "vercel yxnFIOld0H"],
        ..named(
            "vercel_token",
            "Vercel token",
            &["vercel"],
            r"(?i:vercel)[\s\S]{0,60}?\b([A-Za-z0-9]{24})\b",
        )
    },
    Spec {
        examples: &["NETLIFY_AUTH_TOKEN=qjK-hxOsJpQth1qGf5p3f8YpvIk8uU-CHe5HsDimoSE"],
        counter_examples: &["netlify JjESSjRazqdMBQIZJbk3A0Ug6jxALV"],
        ..named(
            "netlify_token",
            "Netlify access token",
            &["netlify"],
            r"(?i:netlify)[\s\S]{0,60}?(?:^|[^A-Za-z0-9_\-])([A-Za-z0-9_\-]{43,45})(?:[^A-Za-z0-9_\-]|$)",
        )
    },
    Spec {
        // Long-lived tokens hold a run of ten `A`s, which reads as a mask: the rest is
        // checked instead.
        secret: false,
        validate: Some(random_besides_padding),
        examples: &[
            "DROPBOX_ACCESS_TOKEN=sl.XstjnB11zgsjYIJxm8wT-c4TsdyDKQDGJW0yVX1cNwoovgf4A-N7svDhfYpw2c2_1PUc1U_tC0MR3LMdKHFZs2vGV8VUbKN8-VAjHSOfwY8-a8ju8Zu8znJgePqMsgQEmcfjBP_n6PJu",
            "dropbox token 2FOGccIkad9AAAAAAAAAAn5Qle0n8aR22IQFMsADN0Aa9TS-maOuIe8LLjpxN5of",
        ],
        counter_examples: &[
            "dropbox sl.hEkbKNEBijRTMh0IsB3k",
            "dropbox aL3FKmK6uiWAAAAAAAAAAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ],
        ..named(
            "dropbox_token",
            "Dropbox access token",
            &["dropbox"],
            r"(?i:dropbox)[\s\S]{0,60}?\b(sl\.(?:u\.)?[A-Za-z0-9_\-]{130,1400}|[A-Za-z0-9]{11}AAAAAAAAAA[A-Za-z0-9_\-]{43})",
        )
    },
    Spec {
        examples: &["ALGOLIA_ADMIN_KEY=af9ef6a786c41d91365b21e9f50cb970"],
        counter_examples: &["algolia 32762104b79e139cb438a0bdac51bd7"],
        ..named(
            "algolia_api_key",
            "Algolia admin API key",
            &["algolia"],
            r"(?i:algolia)[\s\S]{0,60}?\b([a-f0-9]{32})\b",
        )
    },
    Spec {
        examples: &["SNYK_TOKEN=d341fc2f-ae06-4052-bde5-b932e268f812"],
        counter_examples: &[
            "snyk 00000000-0000-0000-0000-000000000000",
            "SNYK_TOKEN=fa322bda03bccdfc17f2751e08fb23e6",
        ],
        ..named(
            "snyk_token",
            "Snyk API token",
            &["snyk"],
            r"(?i:snyk)[\s\S]{0,60}?\b([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b",
        )
    },
    Spec {
        examples: &["AZURE_DEVOPS_PAT=bkurngcmkijrm6nmh6hv2bdewb3iigfs5burj2rfrilczpxxubzi"],
        counter_examples: &["azure devops bhgtwrwtfmzeiejygeieedsglrfacitobyjyozhe"],
        ..named(
            "azure_devops_pat",
            "Azure DevOps personal access token",
            &["azure_devops", "ado_pat", "azure devops", "dev.azure.com"],
            r"(?i:azure_devops|ado_pat|azure devops|dev\.azure\.com)[\s\S]{0,80}?\b([a-z2-7]{52}|[A-Za-z0-9]{84})\b",
        )
    },
    Spec {
        // Three base64url parts; the first is the bot's numeric user id.
        validate: Some(discord_bot_token),
        context: &["discord"],
        boosted: Confidence::High,
        examples: &[
            "DISCORD_BOT_TOKEN=ODc3Njg3NzExNDE4OTY4MzUy.M7x4bv.OGIY9IDPhUuqusiJLOb-yUi870a1AG03Uc45fW",
        ],
        counter_examples: &[
            "discord token MWEyYjNjNGQ1ZTZmN2c4aDk.eTKn-o.dHSq9RzQCP_UwuB_dsxWkbx5AKYbmIM1B_DtcU",
            "discord iDL3F0svFW",
        ],
        ..named(
            "discord_bot_token",
            "Discord bot token",
            &["discord"],
            r"(?i:discord)[\s\S]{0,80}?\b([MNO][A-Za-z\d_\-]{22,26}\.[A-Za-z\d_\-]{6}\.[A-Za-z\d_\-]{27,38})(?:[^A-Za-z\d_\-]|$)",
        )
    },
    Spec {
        examples: &[
            "salesforce session 00D0gCxvNDT8zEv!pFMWU7uqyvsAoSw6chqt6yrq1TCHWH3uSyP1HxGySXcRLzNMeIo_oSZsezWRATWYbf_1HcBOvNtrrgwGKWtln5wjBvJurhGq",
        ],
        counter_examples: &["salesforce 00DvjHjyFsJ680C!Xrw8EKKu9djB2RF2CSPV"],
        ..named(
            "salesforce_token",
            "Salesforce access token",
            &["salesforce", "sfdc", "force.com"],
            r"(?i:salesforce|sfdc|force\.com)[\s\S]{0,80}?\b(00[A-Za-z0-9]{13}![A-Za-z0-9_.]{96})",
        )
    },
    Spec {
        examples: &["JENKINS_API_TOKEN=11220ad5b07c52f3575d2aa8a3cc29db0c"],
        counter_examples: &["jenkins 107ed55135a06d2bc584a3119c95c5c52d"],
        ..named(
            "jenkins_api_token",
            "Jenkins API token",
            &["jenkins"],
            r"(?i:jenkins)[\s\S]{0,60}?\b(11[0-9a-f]{32})\b",
        )
    },
    Spec {
        examples: &["bitbucket app password ATBBtMINh26pnMr28E69GecOUCgN5AgehjbV"],
        counter_examples: &["bitbucket ATBBpdI8mcEhex"],
        ..named(
            "bitbucket_app_password",
            "Bitbucket app password",
            &["bitbucket"],
            r"(?i:bitbucket)[\s\S]{0,60}?\b(ATBB[A-Za-z0-9_=.\-]{28,})",
        )
    },
    Spec {
        examples: &[
            "MAPBOX_TOKEN=sk.eyJgf7neehpsBHNEoKB-tD0dwU0RgYDQctaP4bzNAKGGsajyTaYC9RIEDynjIMi.WmDY2ouigQ0xznwBIGPd1R",
        ],
        counter_examples: &[
            "pk.eyJM8-Ygm9_qLdw46gDpLWEm1FsNfFpFyGU0Su4USFSaYaQupqN28D05DDU7D9Z.ARH6ytW3SU6WRRRMAi6B6Y",
        ],
        ..named(
            "mapbox_secret_token",
            "Mapbox secret token",
            &["sk.eyJ"],
            r"\b(sk\.eyJ[A-Za-z0-9_\-]{50,}\.[A-Za-z0-9_\-]{20,})",
        )
    },
    Spec {
        // A `Basic` header is base64 of `user:password`: what decodes to that is a
        // credential whatever the value looks like. The trigger is the scheme (`author`,
        // the first six letters of `Authorization`, is a common word); the header name
        // before it is reached back to.
        trigger: Trigger::Prefixes(&["Basic "]),
        reach_back: 40,
        base: Confidence::High,
        boosted: Confidence::High,
        min_entropy: 3.0,
        validate: Some(base64_user_password),
        examples: &[
            "Authorization: Basic ZGVwbG95OkZyV0s1ZThyRXQxZ0Vu",
            "-H 'authorization: Basic c3ZjLWxuNmNwOmZEMVc0eFNmcUFobk5lcjR5ZWJS'",
        ],
        counter_examples: &[
            "Authorization: Basic dXNlcm5hbWU=",
            "Authorization: Basic $CREDENTIALS",
            "Authorization: Bearer l7QYytUsOjTWHb8dKBloLKRVogljlM",
        ],
        ..named(
            "http_basic_auth",
            "HTTP Basic authorization header",
            &["authorization"],
            r#"(?i:authorization)["']?[ \t]*[:=,][ \t]*["']?(?i:basic)[ \t]+([A-Za-z0-9+/]{8,}={0,2})(?:[^A-Za-z0-9+/=]|$)"#,
        )
    },
    Spec {
        min_entropy: 2.5,
        reach: 300,
        validate: Some(user_colon_password),
        context: &["curl"],
        examples: &[
            "curl -u admin:Xa09KIpll7QdFD https://api.internal/v1/items",
            "curl -s \\\n  --user deploy:lF3vTnRdzVf7dH4QC0 https://ci.internal/job",
        ],
        counter_examples: &[
            "curl -u $USER:$PASS https://api.internal",
            "curl -u admin https://api.internal",
            "curl -u admin:${API_PASSWORD} https://api.internal",
        ],
        ..named(
            "curl_user_credentials",
            "Credentials on a curl command line (-u / --user)",
            &["curl"],
            // The options may continue on the next line after a backslash.
            r#"(?i:curl)\b(?:[^\r\n]|\\\r?\n){0,200}?[ \t](?:-u[ \t]*|--user[ \t=]+)["']?([^\s:"'$]{1,64}:[^\s"']{3,128})"#,
        )
    },
    Spec {
        category: Category::Financial,
        trigger: Trigger::Digits(1),
        validate: Some(bitcoin_address),
        secret: false,
        min_entropy: 0.0,
        base: Confidence::Medium,
        boosted: Confidence::High,
        context: &["bitcoin", "btc", "wallet", "address"],
        // The address starts at its first digit (`1` or `3`) and runs on for 25-34
        // characters, which can hold long runs of letters.
        digit_set_pattern: Some(r"\b[13][1-9A-HJ-NP-Za-km-z]{7}"),
        reach: 64,
        reach_back: 64,
        examples: &[
            "send BTC to 1VgZhCXq9FmUvMg8fwL9hy5ikeae4xcvc",
            // The Bitcoin wiki's P2SH example: 22 letters after its last digit.
            "pay 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
        ],
        counter_examples: &["send BTC to 1VgZhCXq9FmUvMg8fwL9hy5ikeae4xcva"],
        ..named(
            "bitcoin_address",
            "Bitcoin address (base58check)",
            &[],
            r"\b([13][1-9A-HJ-NP-Za-km-z]{25,34})\b",
        )
    },
    Spec {
        min_entropy: 3.0,
        base: Confidence::Low,
        boosted: Confidence::Medium,
        context: PASSWORD_CONTEXT,
        reach: 200,
        validate: Some(literal_value),
        examples: &["DB_PASSWORD=Qnp!ekK7tMO#K!uS", "password: D%KQE0h9M!WY"],
        counter_examples: &[
            "password=\nuser=bob",
            "password = var.db_password",
            "password: $password",
            "password: ${DB_PASSWORD}",
            "password: {{ .Values.password }}",
            "password = %(password)s",
            "password = ####",
            "password = ********",
            "password = some_function(arg)",
            "password = self.password",
            "password: str",
            "password: SecretStr",
            "password: Optional[str]",
            "password = get_db_password()",
            // gcloud's manuals: `gcloud sql instances create`, `alloydb instances create`.
            "--memory=4GB --region=us-central1 --root-password=password123",
            "--location=us-east4 --password=123Abpassword",
            "%sudo ALL=(root) NOPASSWD: /bin/systemctl restart app", "PWD: '/Users/jane'", "CHALLENGE_PASSWORD: \"challengePassword\"", "pub pszPassword: windows_sys::core::PWSTR,", "self.username, self.password = credentials", "usernamePassword: MI_UsernamePasswordCreds,", "pub static kSecClassInternetPassword: CFStringRef;", "pub const DBPROP_AUTH_PASSWORD: DBPROPENUM = 9i32;", "use crate::operation::get_random_password::GetRandomPasswordOutput;",],
        ..named(
            "password_assignment",
            "Password assigned in code or configuration",
            &["password", "passwd", "pwd", "passphrase"],
            // The value is on the same line as its key (`password=` then a newline is an
            // empty value) and ends the expression: `some_function(...)`, `items[0]` are
            // code, not values.
            r#"(?i:password|passwd|pwd|passphrase)[A-Za-z_]{0,12}["'\]]?[ \t]*(?::=|=>|==|[:=])[ \t]*["'`]?([^\s"'`,;<>{}()\[\]]{8,64})(?:["'`]|[ \t,;#}\r\n]|$)"#,
        )
    },
    Spec {
        min_entropy: 3.0,
        base: Confidence::Low,
        boosted: Confidence::Medium,
        validate: Some(quoted_password),
        context: PASSWORD_CONTEXT,
        reach: 200,
        // Listed after `password_assignment`, which keeps the quoted values it also reads.
        examples: &["password = \"correct horse battery!\"", "passphrase: 'nksvb FO0hkp nsmz 42'"],
        counter_examples: &[
            "password = \"{{ .Values.password }}\"",
            "password = \"%(password)s\"",
            "password = \"short\"",
            "password = \"${DB_PASSWORD}\"",
            "password = \"********\"", "const password = 'Password used to generate key';", "passphrase: 'top secret'",],
        ..named(
            "password_quoted",
            "Quoted password with spaces or symbols, assigned in code or configuration",
            &["password", "passwd", "passphrase"],
            r#"(?i:password|passwd|passphrase)[A-Za-z_]{0,12}["'\]]?[ \t]*(?::=|=>|==|[:=])[ \t]*["']([^"'\r\n]{8,64})["']"#,
        )
    },
    Spec {
        min_entropy: 3.5,
        base: Confidence::Medium,
        boosted: Confidence::Medium,
        reach: 200,
        validate: Some(literal_value),
        examples: &[
            "api_key = \"mcUbNXEOOActVNdkbrX7ZTEydbm2ReSm\"",
            "Authorization: Bearer uU2EBBFqbCfBcqrP-d272NWlgNPHsAjv3OIosoFd",
        ],
        counter_examples: &[
            "api_key = os.environ['API_KEY']",
            "api_key: \"${API_KEY}\"",
            "api_key = get_secret_value_from_vault_store(\"k\")",
            "access_token = var.github_access_token_for_ci",
            "api_key = koEkBYZlTKp7",
        ],
        ..named(
            "generic_api_key",
            "API key, token or client secret assigned in code or configuration",
            &[
                "api_key",
                "apikey",
                "api-key",
                "access_token",
                "auth_token",
                "client_secret",
                "secret_key",
                "api_token",
                "private_token",
                "bearer ",
            ],
            r#"(?i:api[_\-]?key|access[_\-]?token|auth[_\-]?token|client[_\-]?secret|secret[_\-]?key|api[_\-]?token|private[_\-]?token|bearer)["'\]]?[ \t]*(?::=|=>|[:=]|[ \t])[ \t]*["'`]?([A-Za-z0-9_\-./+=~]{20,200})(?:[^A-Za-z0-9_\-./+=~(\[]|$)"#,
        )
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_url_the_credentials_pattern_matches_passes_the_test_before_its_window() {
        let spec = SPECS.iter().find(|s| s.id == "url_credentials").unwrap();
        let regex = crate::engine::compile_pattern(spec.pattern).unwrap();
        let more = [
            "jdbc:mysql://u:pw1@h/db",
            "redis://:abcdef@cache:6379",
            "amqps://guest:gue#st@rabbit",
            "mongodb+srv://a:b:c@cluster0.example.net",
        ];
        let mut matched = 0;
        for text in spec
            .examples
            .iter()
            .chain(spec.counter_examples)
            .chain(&more)
        {
            for m in regex.find_iter(text.as_bytes()) {
                let value = &text.as_bytes()[m.start()..m.end()];
                let scheme_end = memchr::memmem::find(value, b"://").unwrap() + 3;
                assert!(
                    userinfo_follows(&text.as_bytes()[m.start() + scheme_end..]),
                    "{text}"
                );
                matched += 1;
            }
        }
        assert!(matched >= 8, "{matched}");
        assert!(userinfo_follows(b"app:s3cret@db"));
        assert!(!userinfo_follows(b"example.com/docs/page"));
        assert!(!userinfo_follows(b"host:8080/path?user=a@b"));
        assert!(!userinfo_follows(b"app@db"), "a user without a password");
        assert!(!userinfo_follows(b"app:s3cret db@host"));
    }

    #[test]
    fn jwt_header_must_be_json_with_alg() {
        // {"alg":"HS256","typ":"JWT"}
        assert!(jwt_header_is_json(
            b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.sig"
        ));
        // {"foo":"bar"} has no alg
        assert!(!jwt_header_is_json(
            b"eyJmb28iOiJiYXIifQ.eyJzdWIiOiIxIn0.sig"
        ));
    }

    #[test]
    fn private_key_needs_a_real_body() {
        assert!(!private_key_body(
            b"-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----"
        ));
        let body = "MIIEowIBAAKCAQEA7bq98jkLm3nPQ2v8xYz1Ab3Cd4Ef5Gh6Ij7Kl8Mn9Op0Qr1St2Uv3Wx4Yz5Aa6Bb7Cc8Dd9Ee0Ff1Gg2Hh3Ii4Jj5Kk6Ll7Mm8Nn9Oo0Pp1";
        let pem = format!("-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----");
        assert!(private_key_body(pem.as_bytes()));
    }
}
