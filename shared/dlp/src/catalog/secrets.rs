//! Credentials. Most vendors give their tokens a fixed prefix (GitHub's `ghp_`, Slack's
//! `xoxb-`, ...): that prefix is the trigger and the match is reported at high confidence
//! once it passes the entropy and placeholder checks. Keys without a prefix (AWS secret
//! keys, generic passwords) are only looked for next to the words that name them.

use super::{Spec, Trigger, BASE};
use crate::model::{Category, Confidence};
use crate::validators;

/// A vendor token with a distinctive literal prefix.
const fn token(
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
        base: Some(Confidence::High),
        boosted: Confidence::High,
        secret: true,
        min_entropy: 3.0,
        reach: 256,
        reach_back: 0,
        ..BASE
    }
}

/// A key without a prefix, reported only when the vendor's name or the key's name is near.
const fn named(
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
        base: Some(Confidence::Medium),
        boosted: Confidence::Medium,
        secret: true,
        min_entropy: 3.2,
        reach: 160,
        reach_back: 0,
        ..BASE
    }
}

fn jwt_header_is_json(raw: &[u8]) -> bool {
    let header = raw.split(|&b| b == b'.').next().unwrap_or_default();
    match crate::util::base64url_decode(header) {
        Some(decoded) => {
            let lower: Vec<u8> = decoded.iter().map(u8::to_ascii_lowercase).collect();
            decoded.first() == Some(&b'{') && memchr::memmem::find(&lower, b"\"alg\"").is_some()
        }
        None => false,
    }
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

pub const SPECS: &[Spec] = &[
    Spec {
        context: &["aws", "amazon", "access key", "iam"],
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
        ..named(
            "aws_session_token",
            "AWS session token",
            &["aws_session_token", "sessiontoken"],
            r#"(?i:aws_session_token|sessiontoken)["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{100,1000})"#,
        )
    },
    token(
        "aws_mws_key",
        "Amazon MWS auth token",
        &["amzn.mws."],
        r"\b(amzn\.mws\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b",
    ),
    token(
        "github_token",
        "GitHub token",
        &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        r"\b((?:gh[pousr]_[A-Za-z0-9]{36,255})|(?:github_pat_[A-Za-z0-9_]{82}))\b",
    ),
    token(
        "gitlab_token",
        "GitLab token",
        &["glpat-", "glptt-", "glrt-", "gldt-", "glft-", "glsoat-"],
        r"\b((?:glpat|gldt|glft|glsoat|glrt)-[A-Za-z0-9_\-]{20,}|glptt-[0-9a-f]{40})",
    ),
    token(
        "slack_token",
        "Slack token",
        &["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe", "xapp-"],
        r"\b((?:xox[baprs]-[0-9]{8,13}-[0-9A-Za-z\-]{8,}|xoxe(?:\.xox[bp])?-1-[A-Za-z0-9\-]{100,}|xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+))",
    ),
    token(
        "slack_webhook_url",
        "Slack incoming webhook",
        &["hooks.slack.com/"],
        r"(https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{43,56})",
    ),
    Spec {
        reach_back: 0,
        ..token(
            "stripe_secret_key",
            "Stripe secret or restricted key",
            &["sk_live_", "rk_live_"],
            r"\b((?:sk|rk)_live_[A-Za-z0-9]{20,247})\b",
        )
    },
    Spec {
        base: Some(Confidence::Low),
        boosted: Confidence::Low,
        ..token(
            "stripe_test_key",
            "Stripe test-mode key",
            &["sk_test_", "rk_test_"],
            r"\b((?:sk|rk)_test_[A-Za-z0-9]{20,247})\b",
        )
    },
    token(
        "stripe_webhook_secret",
        "Stripe webhook signing secret",
        &["whsec_"],
        r"\b(whsec_[A-Za-z0-9]{32,})\b",
    ),
    token(
        "google_api_key",
        "Google API key",
        &["AIza"],
        r"\b(AIza[0-9A-Za-z_\-]{35})(?:[^0-9A-Za-z_\-]|$)",
    ),
    token(
        "google_oauth_client_secret",
        "Google OAuth client secret",
        &["GOCSPX-"],
        r"(GOCSPX-[A-Za-z0-9_\-]{28})",
    ),
    token(
        "google_oauth_access_token",
        "Google OAuth access token",
        &["ya29."],
        r"\b(ya29\.[0-9A-Za-z_\-]{30,})",
    ),
    Spec {
        reach: 3000,
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
        ..token(
            "putty_private_key",
            "PuTTY private key",
            &["PuTTY-User-Key-File-"],
            r"(PuTTY-User-Key-File-[23]: [\s\S]{20,4000}?Private-Lines: \d+)",
        )
    },
    token(
        "age_secret_key",
        "age secret key",
        &["AGE-SECRET-KEY-1"],
        r"(AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})",
    ),
    Spec {
        reach: 4096,
        validate: Some(jwt_header_is_json),
        min_entropy: 3.0,
        ..token(
            "jwt",
            "JSON Web Token",
            &["eyJ"],
            r"\b(eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{16,})",
        )
    },
    token(
        "azure_storage_account_key",
        "Azure storage account key",
        &["AccountKey="],
        r"AccountKey=([A-Za-z0-9/+]{86}==)",
    ),
    Spec {
        reach: 400,
        ..token(
            "azure_sas_token",
            "Azure shared access signature",
            &["sig="],
            r"(?:sv=\d{4}-\d{2}-\d{2}[^\s]{0,300}?sig=|sig=)([A-Za-z0-9%/+]{40,100}(?:%3D|=){0,2})",
        )
    },
    Spec {
        reach_back: 8,
        ..token(
            "azure_ad_client_secret",
            "Azure AD (Entra) client secret",
            &["8Q~", "7Q~"],
            r"(?:^|[^A-Za-z0-9_~.\-])([A-Za-z0-9_~.\-]{3}[78]Q~[A-Za-z0-9_~.\-]{31,34})(?:[^A-Za-z0-9_~.\-]|$)",
        )
    },
    token(
        "npm_token",
        "npm access token",
        &["npm_"],
        r"\b(npm_[A-Za-z0-9]{36})\b",
    ),
    token(
        "pypi_token",
        "PyPI upload token",
        &["pypi-AgEIcHlwaS5vcmc"],
        r"(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,})",
    ),
    token(
        "dockerhub_token",
        "Docker Hub personal access token",
        &["dckr_pat_", "dckr_oat_"],
        r"\b(dckr_(?:pat|oat)_[A-Za-z0-9_\-]{27,})",
    ),
    token(
        "digitalocean_token",
        "DigitalOcean token",
        &["dop_v1_", "doo_v1_", "dor_v1_"],
        r"\b(do[opr]_v1_[a-f0-9]{64})\b",
    ),
    token(
        "databricks_token",
        "Databricks token",
        &["dapi"],
        r"\b(dapi[a-f0-9]{32}(?:-\d)?)\b",
    ),
    token(
        "hashicorp_vault_token",
        "HashiCorp Vault token",
        &["hvs.", "hvb.", "hvr."],
        r"\b(hv[sbr]\.[A-Za-z0-9_\-]{24,})",
    ),
    token(
        "terraform_cloud_token",
        "Terraform Cloud token",
        &[".atlasv1."],
        r"\b([A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_\-=]{60,70})",
    ),
    Spec {
        reach_back: 0,
        ..token(
            "openai_api_key",
            "OpenAI API key",
            &["sk-proj-", "sk-svcacct-", "sk-admin-", "T3BlbkFJ"],
            r"\b(sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,200}|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})",
        )
    },
    Spec {
        reach_back: 64,
        ..token(
            "openai_legacy_key",
            "OpenAI legacy key (T3BlbkFJ marker)",
            &["T3BlbkFJ"],
            r"\b(sk-[A-Za-z0-9_\-]{16,60}T3BlbkFJ[A-Za-z0-9_\-]{16,60})",
        )
    },
    token(
        "anthropic_api_key",
        "Anthropic API key",
        &["sk-ant-"],
        r"\b(sk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_\-]{80,120})",
    ),
    token(
        "huggingface_token",
        "Hugging Face token",
        &["hf_"],
        r"\b(hf_[A-Za-z]{34})\b",
    ),
    token(
        "telegram_bot_token",
        "Telegram bot token",
        &[":AA"],
        r"\b(\d{8,10}:AA[A-Za-z0-9_\-]{33})",
    ),
    Spec {
        reach_back: 12,
        ..token(
            "telegram_bot_token_alt",
            "Telegram bot token (bot URL)",
            &["api.telegram.org/bot"],
            r"api\.telegram\.org/bot(\d{8,10}:[A-Za-z0-9_\-]{35})",
        )
    },
    token(
        "discord_webhook_url",
        "Discord webhook",
        &["discord.com/api/webhooks/", "discordapp.com/api/webhooks/"],
        r"(https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d{17,20}/[A-Za-z0-9_\-]{60,68})",
    ),
    token(
        "atlassian_api_token",
        "Atlassian API token",
        &["ATATT3"],
        r"\b(ATATT3[A-Za-z0-9_\-=]{180,})",
    ),
    token(
        "linear_api_key",
        "Linear API key",
        &["lin_api_"],
        r"\b(lin_api_[A-Za-z0-9]{40})\b",
    ),
    token(
        "postman_api_key",
        "Postman API key",
        &["PMAK-"],
        r"\b(PMAK-[a-f0-9]{24}-[a-f0-9]{34})\b",
    ),
    token(
        "newrelic_user_key",
        "New Relic user API key",
        &["NRAK-"],
        r"\b(NRAK-[A-Z0-9]{27})\b",
    ),
    token(
        "newrelic_insert_key",
        "New Relic insert key",
        &["NRII-"],
        r"\b(NRII-[A-Za-z0-9_\-]{32})",
    ),
    token(
        "sendgrid_api_key",
        "SendGrid API key",
        &["SG."],
        r"\b(SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})",
    ),
    token(
        "mailchimp_api_key",
        "Mailchimp API key",
        &["-us"],
        r"\b([0-9a-f]{32}-us\d{1,2})\b",
    ),
    Spec {
        reach_back: 48,
        ..token(
            "mailgun_api_key",
            "Mailgun API key",
            &["key-"],
            r"(?i:mailgun)[\s\S]{0,40}?\b(key-[0-9a-f]{32})\b",
        )
    },
    token(
        "shopify_token",
        "Shopify access token",
        &["shpat_", "shpca_", "shppa_", "shpss_"],
        r"\b(shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})\b",
    ),
    token(
        "square_token",
        "Square access token or secret",
        &["sq0atp-", "sq0csp-", "EAAA"],
        r"\b(sq0(?:atp|csp)-[0-9A-Za-z_\-]{22,43}|EAAA[A-Za-z0-9_\-]{60})",
    ),
    token(
        "braintree_access_token",
        "PayPal Braintree access token",
        &["access_token$production$"],
        r"(access_token\$production\$[0-9a-z]{16}\$[0-9a-f]{32})",
    ),
    token(
        "planetscale_token",
        "PlanetScale token or password",
        &["pscale_tkn_", "pscale_pw_", "pscale_oauth_"],
        r"\b(pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_\-.=]{32,64})",
    ),
    token(
        "supabase_token",
        "Supabase access token",
        &["sbp_"],
        r"\b(sbp_[a-f0-9]{40})\b",
    ),
    token(
        "rubygems_api_key",
        "RubyGems API key",
        &["rubygems_"],
        r"\b(rubygems_[a-f0-9]{48})\b",
    ),
    token(
        "nuget_api_key",
        "NuGet API key",
        &["oy2"],
        r"\b(oy2[a-z0-9]{43})\b",
    ),
    token(
        "clojars_token",
        "Clojars deploy token",
        &["CLOJARS_"],
        r"\b(CLOJARS_[a-z0-9]{60})\b",
    ),
    token(
        "doppler_token",
        "Doppler token",
        &["dp.st.", "dp.ct.", "dp.pt.", "dp.sa."],
        r"\b(dp\.(?:st|ct|pt|sa|scim|audit)\.[A-Za-z0-9_\-]{40,44})",
    ),
    token(
        "pulumi_token",
        "Pulumi access token",
        &["pul-"],
        r"\b(pul-[a-f0-9]{40})\b",
    ),
    token(
        "grafana_token",
        "Grafana Cloud or service account token",
        &["glc_", "glsa_"],
        r"\b(glc_[A-Za-z0-9+/]{32,400}={0,2}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})",
    ),
    token(
        "firebase_fcm_server_key",
        "Firebase Cloud Messaging server key",
        &[":APA91b"],
        r"\b(AAAA[A-Za-z0-9_\-]{7}:APA91b[A-Za-z0-9_\-]{134})",
    ),
    Spec {
        reach_back: 0,
        ..token(
            "facebook_access_token",
            "Facebook access token",
            &["EAACEdEose0cBA", "EAAB", "EAAG"],
            r"\b(EAA(?:CEdEose0cBA|B|G)[0-9A-Za-z]{80,255})",
        )
    },
    token(
        "twitter_bearer_token",
        "Twitter/X bearer token",
        &["AAAAAAAAAAAAAAAAAAAAA"],
        r"\b(A{22}[A-Za-z0-9%]{80,120})",
    ),
    token(
        "alibaba_access_key_id",
        "Alibaba Cloud AccessKey ID",
        &["LTAI"],
        r"\b(LTAI[A-Za-z0-9]{12,20})\b",
    ),
    token(
        "flutterwave_secret_key",
        "Flutterwave secret key",
        &["FLWSECK-", "FLWSECK_TEST-"],
        r"\b(FLWSECK(?:_TEST)?-[a-h0-9]{32}-X)",
    ),
    token(
        "easypost_api_key",
        "EasyPost API key",
        &["EZAK", "EZTK"],
        r"\b(EZ[AT]K[a-zA-Z0-9]{54})\b",
    ),
    token(
        "shippo_api_token",
        "Shippo API token",
        &["shippo_live_"],
        r"\b(shippo_live_[a-f0-9]{40})\b",
    ),
    token(
        "sentry_auth_token",
        "Sentry auth token",
        &["sntrys_", "sntryu_"],
        r"\b(sntry[su]_[A-Za-z0-9_=+/]{64,})",
    ),
    token(
        "fly_io_token",
        "Fly.io access token",
        &["fo1_", "FlyV1 fm2_"],
        r"\b(fo1_[A-Za-z0-9_\-]{43}|FlyV1 fm2_[A-Za-z0-9+/=_,\-]{100,})",
    ),
    token(
        "render_api_key",
        "Render API key",
        &["rnd_"],
        r"\b(rnd_[A-Za-z0-9]{32})\b",
    ),
    token(
        "prefect_api_key",
        "Prefect API key",
        &["pnu_"],
        r"\b(pnu_[A-Za-z0-9]{36})\b",
    ),
    token(
        "readme_api_key",
        "ReadMe API key",
        &["rdme_"],
        r"\b(rdme_[a-z0-9]{70})\b",
    ),
    token(
        "scalingo_token",
        "Scalingo API token",
        &["tk-us-"],
        r"\b(tk-us-[A-Za-z0-9_\-]{48})",
    ),
    token(
        "frameio_token",
        "Frame.io API token",
        &["fio-u-"],
        r"\b(fio-u-[A-Za-z0-9_\-=]{64})",
    ),
    token(
        "dynatrace_token",
        "Dynatrace API token",
        &["dt0c01."],
        r"\b(dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64})\b",
    ),
    token(
        "contentful_token",
        "Contentful delivery token",
        &["CFPAT-"],
        r"\b(CFPAT-[A-Za-z0-9_\-]{43})",
    ),
    token(
        "intercom_token",
        "Intercom access token",
        &["dG9rOj"],
        r"\b(dG9rOj[A-Za-z0-9_\-=]{40,})",
    ),
    token(
        "adafruit_io_key",
        "Adafruit IO key",
        &["aio_"],
        r"\b(aio_[A-Za-z0-9]{28})\b",
    ),
    Spec {
        min_entropy: 2.5,
        reach: 300,
        reach_back: 24,
        ..token(
            "url_credentials",
            "Credentials in a URL or connection string",
            &["://"],
            r"\b((?:https?|ftp|ftps|sftp|ssh|postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|redis|rediss|amqps?|mssql|sqlserver|jdbc:[a-z]+|ldaps?|smtp)://[^\s:/@?#]{1,64}:([^\s:/@?#]{3,128})@[A-Za-z0-9.\-\[\]]{2,255})",
        )
    },
    named(
        "twilio_api_key",
        "Twilio API key",
        &["twilio"],
        r"(?i:twilio)[\s\S]{0,60}?\b(SK[0-9a-fA-F]{32})\b",
    ),
    named(
        "twilio_auth_token",
        "Twilio auth token",
        &["twilio_auth_token", "twilio auth token", "authtoken"],
        r#"(?i:twilio_auth_token|twilio auth token|authtoken)["']?\s*[:=]\s*["']?([0-9a-f]{32})\b"#,
    ),
    named(
        "heroku_api_key",
        "Heroku API key",
        &["heroku"],
        r"(?i:heroku)[\s\S]{0,60}?\b([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|HRKU-[A-Za-z0-9_\-]{60})\b",
    ),
    named(
        "datadog_api_key",
        "Datadog API or application key",
        &["datadog", "dd_api_key", "dd_app_key", "dd-api-key"],
        r"(?i:datadog|dd_api_key|dd_app_key|dd-api-key)[\s\S]{0,60}?\b([a-f0-9]{32}|[a-f0-9]{40})\b",
    ),
    named(
        "okta_api_token",
        "Okta API token",
        &["okta"],
        r"(?i:okta)[\s\S]{0,60}?\b(00[A-Za-z0-9_\-]{40})\b",
    ),
    named(
        "cloudflare_api_token",
        "Cloudflare API token or key",
        &["cloudflare", "cf_api_token", "cf_api_key"],
        r"(?i:cloudflare|cf_api_token|cf_api_key)[\s\S]{0,60}?\b([A-Za-z0-9_\-]{40}|[a-f0-9]{37})\b",
    ),
    named(
        "circleci_token",
        "CircleCI token",
        &["circleci", "circle_token"],
        r"(?i:circleci|circle_token)[\s\S]{0,60}?\b(CCIPAT_[A-Za-z0-9]{22}_[a-f0-9]{40}|[a-f0-9]{40})\b",
    ),
    named(
        "vercel_token",
        "Vercel token",
        &["vercel"],
        r"(?i:vercel)[\s\S]{0,60}?\b([A-Za-z0-9]{24})\b",
    ),
    named(
        "netlify_token",
        "Netlify access token",
        &["netlify"],
        r"(?i:netlify)[\s\S]{0,60}?\b(nfp_[A-Za-z0-9]{36}|[A-Za-z0-9_\-]{43,45})\b",
    ),
    named(
        "dropbox_token",
        "Dropbox access token",
        &["dropbox"],
        r"(?i:dropbox)[\s\S]{0,60}?\b(sl\.[A-Za-z0-9_\-]{130,152}|[a-z0-9]{11}AAAAAAAAAA[a-z0-9_\-]{43})",
    ),
    named(
        "algolia_api_key",
        "Algolia admin API key",
        &["algolia"],
        r"(?i:algolia)[\s\S]{0,60}?\b([a-f0-9]{32})\b",
    ),
    named(
        "snyk_token",
        "Snyk API token",
        &["snyk"],
        r"(?i:snyk)[\s\S]{0,60}?\b([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b",
    ),
    named(
        "azure_devops_pat",
        "Azure DevOps personal access token",
        &["azure_devops", "ado_pat", "azure devops", "dev.azure.com"],
        r"(?i:azure_devops|ado_pat|azure devops|dev\.azure\.com)[\s\S]{0,80}?\b([a-z2-7]{52}|[A-Za-z0-9]{84})\b",
    ),
    named(
        "discord_bot_token",
        "Discord bot token",
        &["discord"],
        r"(?i:discord)[\s\S]{0,60}?\b([MNO][A-Za-z\d_\-]{23,25}\.[A-Za-z\d_\-]{6}\.[A-Za-z\d_\-]{27,38})",
    ),
    named(
        "salesforce_token",
        "Salesforce access token",
        &["salesforce", "sfdc", "force.com"],
        r"(?i:salesforce|sfdc|force\.com)[\s\S]{0,80}?\b(00[A-Za-z0-9]{13}![A-Za-z0-9_.]{96})",
    ),
    named(
        "jenkins_api_token",
        "Jenkins API token",
        &["jenkins"],
        r"(?i:jenkins)[\s\S]{0,60}?\b(11[0-9a-f]{32})\b",
    ),
    named(
        "bitbucket_app_password",
        "Bitbucket app password",
        &["bitbucket"],
        r"(?i:bitbucket)[\s\S]{0,60}?\b(ATBB[A-Za-z0-9_=.\-]{28,})",
    ),
    named(
        "mapbox_secret_token",
        "Mapbox secret token",
        &["sk.eyJ"],
        r"\b(sk\.eyJ[A-Za-z0-9_\-]{50,}\.[A-Za-z0-9_\-]{20,})",
    ),
    Spec {
        category: Category::Financial,
        trigger: Trigger::Digits(1),
        validate: Some(bitcoin_address),
        secret: false,
        min_entropy: 0.0,
        base: Some(Confidence::Medium),
        boosted: Confidence::High,
        context: &["bitcoin", "btc", "wallet", "address"],
        reach: 64,
        reach_back: 64,
        ..named(
            "bitcoin_address",
            "Bitcoin address (base58check)",
            &[],
            r"\b([13][1-9A-HJ-NP-Za-km-z]{25,34})\b",
        )
    },
    Spec {
        min_entropy: 3.0,
        base: Some(Confidence::Low),
        boosted: Confidence::Medium,
        context: &[
            "prod",
            "production",
            "db",
            "database",
            "login",
            "credential",
        ],
        reach: 200,
        ..named(
            "password_assignment",
            "Password assigned in code or configuration",
            &["password", "passwd", "pwd", "passphrase"],
            r#"(?i:password|passwd|pwd|passphrase)[A-Za-z_]{0,12}["'\]]?\s*(?::=|=>|==|[:=])\s*["'`]?([^\s"'`,;<>{}()\[\]]{8,64})"#,
        )
    },
    Spec {
        min_entropy: 3.5,
        base: Some(Confidence::Medium),
        boosted: Confidence::Medium,
        reach: 200,
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
            r#"(?i:api[_\-]?key|access[_\-]?token|auth[_\-]?token|client[_\-]?secret|secret[_\-]?key|api[_\-]?token|private[_\-]?token|bearer)["'\]]?\s*(?::=|=>|[:=]|\s)\s*["'`]?([A-Za-z0-9_\-./+=~]{20,200})"#,
        )
    },
];

#[cfg(test)]
mod tests {
    use super::*;

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
