//! Value types. Each has a `parse` constructor that rejects invalid input, so a value of one
//! of these types is valid by construction.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::InvalidValue;

/// The limits of every value, in one place, so validation and documentation agree.
pub mod limits {
    /// A name's longest (organizations, users, keys, workspaces), in characters.
    pub const NAME_MAX_CHARS: usize = 255;
    /// An email address's longest, in characters.
    pub const EMAIL_MAX_CHARS: usize = 254;
    /// A domain name's longest, in characters.
    pub const DOMAIN_MAX_CHARS: usize = 253;
    /// A URL's longest, in characters.
    pub const URL_MAX_CHARS: usize = 2048;
    /// A Salesforce code's longest, in characters.
    pub const SALESFORCE_CODE_MAX_CHARS: usize = 50;
    /// A quota's largest.
    pub const QUOTA_MAX: u32 = 2_147_483_647;
    /// The earliest day of the month a billing cycle may start.
    pub const BILLING_CYCLE_DAY_MIN: u8 = 1;
    /// The latest day of the month a billing cycle may start (every month has it).
    pub const BILLING_CYCLE_DAY_MAX: u8 = 28;
    /// A logo's largest, in bytes.
    pub const LOGO_MAX_BYTES: usize = 1024 * 1024;
    /// The most keys organization metadata may hold.
    pub const METADATA_MAX_KEYS: usize = 64;
    /// The largest organization metadata, in bytes of JSON.
    pub const METADATA_MAX_BYTES: usize = 16 * 1024;
    /// The most LLM providers an organization may name.
    pub const LLM_CREDENTIALS_MAX_ENTRIES: usize = 32;
    /// An LLM provider's longest name, in characters.
    pub const LLM_PROVIDER_MAX_CHARS: usize = 64;
    /// An LLM secret's longest name, in characters.
    pub const LLM_SECRET_NAME_MAX_CHARS: usize = 255;
    /// A single line of text's longest, in characters, unless its field says otherwise.
    pub const TEXT_LINE_MAX_CHARS: usize = 255;
    /// The largest amount of credits anywhere: an allocation, an overage cap, a tier's
    /// monthly credits, one usage call. Sums of two such amounts fit in 64 bits with room.
    pub const CREDITS_MAX: i64 = 1_000_000_000_000;
    /// The highest rate limit, in requests per minute: of a tier's defaults and of an
    /// organization's overrides alike, so every limit an answer reports is within it.
    pub const RATE_LIMIT_MAX: u32 = 1_000_000;
    /// The most credits a billing cycle can record as used (reached only without an
    /// overage cap): a usage call that would go beyond it is refused, so adding one more
    /// call's credits can never overflow a signed 64-bit column.
    pub const CREDITS_USED_MAX: i64 = i64::MAX / 2;
}

/// The bidirectional control characters (embeddings, overrides, isolates and marks): they
/// make a text display in another order than it is stored (`abc\u{202E}gnp.exe` shows as
/// `abcexe.png`), so no single-line value may hold one.
pub const BIDI_CONTROLS: &[(char, char)] = &[
    ('\u{061C}', '\u{061C}'),
    ('\u{200E}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2066}', '\u{2069}'),
];

/// Characters that display as nothing (Unicode's default-ignorable code points of the Basic
/// Multilingual Plane, less the bidirectional controls, and the Hangul and braille blanks): a
/// name needs at least one character that is neither one of these nor white space.
pub const INVISIBLE: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{034F}', '\u{034F}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{17B4}', '\u{17B5}'),
    ('\u{180B}', '\u{180F}'),
    ('\u{200B}', '\u{200D}'),
    ('\u{2060}', '\u{2065}'),
    ('\u{206A}', '\u{206F}'),
    ('\u{2800}', '\u{2800}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FE00}', '\u{FE0F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFA0}', '\u{FFA0}'),
    ('\u{FFF0}', '\u{FFF8}'),
];

fn in_ranges(c: char, ranges: &[(char, char)]) -> bool {
    ranges.iter().any(|&(low, high)| (low..=high).contains(&c))
}

/// Whether `c` shows as something: not white space, not a control, not invisible.
pub fn is_visible(c: char) -> bool {
    !c.is_whitespace()
        && !c.is_control()
        && !in_ranges(c, INVISIBLE)
        && !in_ranges(c, BIDI_CONTROLS)
}

/// Rejects the characters no stored text may hold: NUL (which PostgreSQL refuses) and, for
/// single-line values, every other control character and the bidirectional controls.
fn check_single_line(value: &str) -> Result<(), InvalidValue> {
    if value.chars().any(char::is_control) {
        return Err(InvalidValue::new("must not contain control characters"));
    }
    if value.chars().any(|c| in_ranges(c, BIDI_CONTROLS)) {
        return Err(InvalidValue::new(
            "must not contain bidirectional control characters",
        ));
    }
    Ok(())
}

/// Rejects a name that shows as nothing: blank, or only invisible characters.
fn check_visible(value: &str) -> Result<(), InvalidValue> {
    if !value.chars().any(is_visible) {
        return Err(InvalidValue::new("must contain a visible character"));
    }
    Ok(())
}

fn check_length(value: &str, min: usize, max: usize) -> Result<(), InvalidValue> {
    let count = value.chars().count();
    if count < min || count > max {
        return Err(InvalidValue::new(if min == max {
            format!("must be exactly {min} characters long")
        } else if min == 0 {
            format!("must be at most {max} characters long")
        } else {
            format!("must be between {min} and {max} characters long")
        }));
    }
    Ok(())
}

macro_rules! string_value {
    ($name:ident) => {
        impl $name {
            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The value's text, owned.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// An organization's display name: 1 to 255 characters on one line, with a visible
/// character and no bidirectional control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationName(String);
string_value!(OrganizationName);

impl OrganizationName {
    /// Reads an organization's name: 1 to 255 characters on one line, with a visible character
    /// and no bidirectional control.
    ///
    /// ```
    /// use tenantry_domain::OrganizationName;
    ///
    /// assert_eq!(OrganizationName::parse("Acme").unwrap().as_str(), "Acme");
    /// assert!(OrganizationName::parse("").is_err());
    /// assert!(OrganizationName::parse("Acme\u{202e}gnp.exe").is_err());
    /// ```
    pub fn parse(value: impl Into<String>) -> Result<Self, InvalidValue> {
        let value = value.into();
        check_length(&value, 1, limits::NAME_MAX_CHARS)?;
        check_single_line(&value)?;
        check_visible(&value)?;
        Ok(Self(value))
    }
}

/// A short single-line text (a person's, a key's or a workspace's name, an external
/// reference): with a visible character and no bidirectional control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextLine(String);
string_value!(TextLine);

impl TextLine {
    /// Reads a line of at most `max_chars` characters, with a visible character and no line
    /// break or bidirectional control.
    ///
    /// ```
    /// use tenantry_domain::TextLine;
    ///
    /// assert!(TextLine::parse("Lab", 10).is_ok());
    /// assert!(TextLine::parse("Laboratory 1", 10).is_err(), "too long");
    /// assert!(TextLine::parse("Lab\n2", 10).is_err());
    /// ```
    pub fn parse(value: impl Into<String>, max_chars: usize) -> Result<Self, InvalidValue> {
        let value = value.into();
        check_length(&value, 1, max_chars)?;
        check_single_line(&value)?;
        check_visible(&value)?;
        Ok(Self(value))
    }
}

/// An email address: `local@domain`, at most 254 characters, with a valid domain name. The
/// domain part is kept in lower case; the local part as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);
string_value!(Email);

impl Email {
    /// Reads an email address (kept as written; compared without regard to letter case).
    ///
    /// ```
    /// use tenantry_domain::Email;
    ///
    /// assert!(Email::parse("ada@example.com").is_ok());
    /// assert!(Email::parse("ada@@example.com").is_err());
    /// assert!(Email::parse("ada").is_err());
    /// ```
    pub fn parse(value: impl Into<String>) -> Result<Self, InvalidValue> {
        let value = value.into();
        let invalid = || InvalidValue::new("must be an email address such as name@example.com");
        check_length(&value, 3, limits::EMAIL_MAX_CHARS).map_err(|_| invalid())?;
        let (local, domain) = value.rsplit_once('@').ok_or_else(invalid)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        if !local_ok {
            return Err(invalid());
        }
        if domain.ends_with('.') {
            return Err(invalid());
        }
        let domain = DomainName::parse(domain).map_err(|_| invalid())?;
        Ok(Self(format!("{local}@{}", domain.as_str())))
    }

    /// The form used to tell two addresses apart: wholly lower case.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A DNS label: 1 to 63 letters, digits and hyphens, not starting or ending with a hyphen.
fn is_label(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// A host name: labels separated by dots, the last starting with a letter (so that it is
/// never read as an IP address).
fn is_host_name(host: &str) -> bool {
    let mut labels = host.split('.').peekable();
    while let Some(label) = labels.next() {
        if !is_label(label) {
            return false;
        }
        if labels.peek().is_none() && !label.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return false;
        }
    }
    true
}

/// A DNS domain name such as `example.com`: at least two labels of letters, digits and
/// hyphens, the last starting with a letter, kept in lower case (a trailing dot is dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainName(String);
string_value!(DomainName);

impl DomainName {
    /// Reads a domain name (letters, digits and hyphens, in dot-separated labels), kept in
    /// lower case.
    ///
    /// ```
    /// use tenantry_domain::DomainName;
    ///
    /// assert_eq!(DomainName::parse("Acme.Example").unwrap().as_str(), "acme.example");
    /// assert!(DomainName::parse("-acme.example").is_err());
    /// assert!(DomainName::parse("acme..example").is_err());
    /// ```
    pub fn parse(value: impl AsRef<str>) -> Result<Self, InvalidValue> {
        let value = value.as_ref();
        let value = value
            .strip_suffix('.')
            .unwrap_or(value)
            .to_ascii_lowercase();
        if value.len() > limits::DOMAIN_MAX_CHARS || !value.contains('.') || !is_host_name(&value) {
            return Err(InvalidValue::new(
                "must be a domain name such as example.com",
            ));
        }
        Ok(Self(value))
    }
}

/// An absolute `http` or `https` URL with a host name, at most 2,048 characters:
/// `http[s]://host[:port][/path][?query][#fragment]`, where the host is a host name (not an
/// IP address), the port 0 to 65535, and the rest printable ASCII without spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl(String);
string_value!(HttpUrl);

impl HttpUrl {
    /// Reads an `http` or `https` URL.
    ///
    /// ```
    /// use tenantry_domain::HttpUrl;
    ///
    /// assert!(HttpUrl::parse("https://acme.example/logo.png").is_ok());
    /// assert!(HttpUrl::parse("ftp://acme.example/logo.png").is_err());
    /// ```
    pub fn parse(value: impl Into<String>) -> Result<Self, InvalidValue> {
        let value = value.into();
        let invalid = || {
            InvalidValue::new(
                "must be an absolute http or https URL such as https://example.com/logo.png",
            )
        };
        if value.chars().count() > limits::URL_MAX_CHARS {
            return Err(invalid());
        }
        let rest = value
            .strip_prefix("https://")
            .or_else(|| value.strip_prefix("http://"))
            .ok_or_else(invalid)?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let port_ok = port.is_none_or(|port| {
            let digits = (1..=5).contains(&port.len()) && port.bytes().all(|b| b.is_ascii_digit());
            digits
                && (port.len() < 5
                    || (!port.starts_with('0') && port.parse::<u32>().is_ok_and(|p| p <= 65_535)))
        });
        let tail_ok = tail.chars().all(|c| ('!'..='~').contains(&c));
        if !is_host_name(host) || !port_ok || !tail_ok {
            return Err(invalid());
        }
        Ok(Self(value))
    }
}

/// The Salesforce code of an organization: at most 50 characters on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesforceCode(String);
string_value!(SalesforceCode);

impl SalesforceCode {
    /// Reads a Salesforce code: a line of at most 50 characters.
    pub fn parse(value: impl Into<String>) -> Result<Self, InvalidValue> {
        let value = value.into();
        check_length(&value, 0, limits::SALESFORCE_CODE_MAX_CHARS)?;
        check_single_line(&value)?;
        Ok(Self(value))
    }
}

/// A quota or credit amount: a whole number from 0 to 2,147,483,647.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quota(u32);

impl Quota {
    /// Reads a quota: a whole number from 0 to 2,147,483,647.
    ///
    /// ```
    /// use tenantry_domain::Quota;
    ///
    /// assert_eq!(Quota::parse(25).unwrap().get(), 25);
    /// assert!(Quota::parse(-1).is_err());
    /// assert!(Quota::parse(1 << 31).is_err());
    /// ```
    pub fn parse(value: i64) -> Result<Self, InvalidValue> {
        if !(0..=i64::from(limits::QUOTA_MAX)).contains(&value) {
            return Err(InvalidValue::new(format!(
                "must be a whole number from 0 to {}",
                limits::QUOTA_MAX
            )));
        }
        Ok(Self(value as u32))
    }

    /// The quota as a number.
    pub const fn get(self) -> u32 {
        self.0
    }
}

/// The day of the month on which an organization's billing cycle starts: 1 to 28, so that
/// every month has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BillingCycleDay(u8);

impl BillingCycleDay {
    /// Reads a day of the month from 1 to 28, on which billing cycles start.
    ///
    /// ```
    /// use tenantry_domain::BillingCycleDay;
    ///
    /// assert_eq!(BillingCycleDay::parse(9).unwrap().get(), 9);
    /// assert!(BillingCycleDay::parse(31).is_err(), "not every month has it");
    /// ```
    pub fn parse(value: i64) -> Result<Self, InvalidValue> {
        let (min, max) = (limits::BILLING_CYCLE_DAY_MIN, limits::BILLING_CYCLE_DAY_MAX);
        if !(i64::from(min)..=i64::from(max)).contains(&value) {
            return Err(InvalidValue::new(format!(
                "must be a day of the month from {min} to {max}"
            )));
        }
        Ok(Self(value as u8))
    }

    /// The day as a number.
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl Default for BillingCycleDay {
    fn default() -> Self {
        Self(1)
    }
}

/// The image formats a logo may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageType {
    /// PNG.
    Png,
    /// JPEG.
    Jpeg,
    /// GIF.
    Gif,
    /// WebP.
    Webp,
}

impl ImageType {
    /// Every image type a logo may be.
    pub const ALL: [ImageType; 4] = [Self::Png, Self::Jpeg, Self::Gif, Self::Webp];

    /// Its media type, such as `image/png`.
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Gif => "image/gif",
            Self::Webp => "image/webp",
        }
    }

    /// The image type of a media type, if a logo may be one.
    pub fn from_content_type(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.content_type().eq_ignore_ascii_case(value))
    }

    /// Whether `bytes` start with this format's signature.
    fn matches(self, bytes: &[u8]) -> bool {
        match self {
            Self::Png => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            Self::Jpeg => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
            Self::Gif => bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a"),
            Self::Webp => bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP",
        }
    }
}

/// An organization's logo: an image of one of the [`ImageType`]s, at most 1 MiB, received
/// as a base64 data URL (`data:image/png;base64,...`) whose bytes are checked to really be
/// an image of the declared type.
#[derive(Clone, PartialEq, Eq)]
pub struct Logo {
    image_type: ImageType,
    bytes: Vec<u8>,
}

impl fmt::Debug for Logo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logo")
            .field("image_type", &self.image_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl Logo {
    /// Reads a logo from a `data:` URL whose bytes are an image of the type it declares.
    ///
    /// ```
    /// use tenantry_domain::Logo;
    ///
    /// let png = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGPwd3v6HwAE3AJ6zM4FjgAAAABJRU5ErkJggg==";
    /// assert!(Logo::parse_data_url(png).is_ok());
    /// assert!(Logo::parse_data_url("data:image/gif;base64,iVBORw0KGgo=").is_err(), "PNG bytes called GIF");
    /// assert!(Logo::parse_data_url("https://acme.example/logo.png").is_err());
    /// ```
    pub fn parse_data_url(value: &str) -> Result<Self, InvalidValue> {
        let invalid = || {
            InvalidValue::new(
                "must be a base64 data URL of a png, jpeg, gif or webp image, such as data:image/png;base64,...",
            )
        };
        let rest = value.strip_prefix("data:").ok_or_else(invalid)?;
        let (header, data) = rest.split_once(',').ok_or_else(invalid)?;
        let media_type = header.strip_suffix(";base64").ok_or_else(invalid)?;
        let image_type = ImageType::from_content_type(media_type).ok_or_else(invalid)?;
        // A decoded logo is at most LOGO_MAX_BYTES, so its base64 text is at most 4/3 of it.
        if data.len() > limits::LOGO_MAX_BYTES.div_ceil(3) * 4 {
            return Err(Self::too_large());
        }
        let bytes = STANDARD.decode(data).map_err(|_| invalid())?;
        Self::from_bytes(image_type, bytes)
    }

    /// A logo of `bytes`, which must be an image of `image_type` and within the size limit.
    pub fn from_bytes(image_type: ImageType, bytes: Vec<u8>) -> Result<Self, InvalidValue> {
        if bytes.len() > limits::LOGO_MAX_BYTES {
            return Err(Self::too_large());
        }
        if !image_type.matches(&bytes) {
            return Err(InvalidValue::new(format!(
                "the decoded data is not a {} image",
                image_type.content_type()
            )));
        }
        Ok(Self { image_type, bytes })
    }

    fn too_large() -> InvalidValue {
        InvalidValue::new(format!(
            "the image must be at most {} bytes",
            limits::LOGO_MAX_BYTES
        ))
    }

    /// Its image type.
    pub fn image_type(&self) -> ImageType {
        self.image_type
    }

    /// Its bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Its bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The logo as a `data:` URL, base64-encoded.
    pub fn to_data_url(&self) -> String {
        format!(
            "data:{};base64,{}",
            self.image_type.content_type(),
            STANDARD.encode(&self.bytes)
        )
    }
}

/// The product modules an organization may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Module {
    /// Assets.
    Assets,
    /// Models.
    Models,
    /// Search.
    Search,
    /// Sources.
    Sources,
    /// Shopping.
    Shopping,
    /// The website.
    Website,
    /// The dashboard.
    Dashboard,
}

impl Module {
    /// Every module.
    pub const ALL: [Module; 7] = [
        Self::Assets,
        Self::Models,
        Self::Search,
        Self::Sources,
        Self::Shopping,
        Self::Website,
        Self::Dashboard,
    ];

    /// The module's name, as the documented APIs spell it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Assets => "Assets",
            Self::Models => "Models",
            Self::Search => "Search",
            Self::Sources => "Sources",
            Self::Shopping => "Shopping",
            Self::Website => "Website",
            Self::Dashboard => "Dashboard",
        }
    }

    /// Reads a module's name.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == value)
            .ok_or_else(|| {
                InvalidValue::new(format!(
                    "must be one of {}",
                    Self::ALL.map(Module::as_str).join(", ")
                ))
            })
    }
}

/// A non-empty set of modules, kept in the documented order, each at most once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modules(Vec<Module>);

impl Modules {
    /// A set of modules, each once.
    pub fn new(modules: impl IntoIterator<Item = Module>) -> Result<Self, InvalidValue> {
        let mut modules: Vec<Module> = modules.into_iter().collect();
        modules.sort();
        modules.dedup();
        if modules.is_empty() {
            return Err(InvalidValue::new("must name at least one module"));
        }
        Ok(Self(modules))
    }

    /// Reads a set of module names; one repeated or unknown is refused.
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Self, InvalidValue> {
        let modules = values
            .into_iter()
            .map(Module::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(modules)
    }

    /// Every module.
    pub fn all() -> Self {
        Self(Module::ALL.to_vec())
    }

    /// The modules, in a stable order.
    pub fn iter(&self) -> impl Iterator<Item = Module> + '_ {
        self.0.iter().copied()
    }

    /// Whether the set holds `module`.
    pub fn contains(&self, module: Module) -> bool {
        self.0.contains(&module)
    }
}

/// Free-form metadata: a JSON object of at most 64 keys and 16 KiB once serialized.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metadata(serde_json::Map<String, serde_json::Value>);

impl Metadata {
    /// Reads metadata: a JSON object of at most 64 keys and 16 KiB.
    ///
    /// ```
    /// use tenantry_domain::Metadata;
    ///
    /// assert!(Metadata::parse(serde_json::json!({"crm": "hubspot"})).is_ok());
    /// assert!(Metadata::parse(serde_json::json!([1, 2])).is_err(), "an object only");
    /// ```
    pub fn parse(value: serde_json::Value) -> Result<Self, InvalidValue> {
        let serde_json::Value::Object(map) = value else {
            return Err(InvalidValue::new("must be a JSON object"));
        };
        Self::from_map(map)
    }

    /// Metadata from a JSON object, checked as [`Metadata::parse`] checks it.
    pub fn from_map(map: serde_json::Map<String, serde_json::Value>) -> Result<Self, InvalidValue> {
        if map.len() > limits::METADATA_MAX_KEYS {
            return Err(InvalidValue::new(format!(
                "must have at most {} keys",
                limits::METADATA_MAX_KEYS
            )));
        }
        let text = serde_json::to_string(&map).unwrap_or_default();
        if text.len() > limits::METADATA_MAX_BYTES {
            return Err(InvalidValue::new(format!(
                "must be at most {} bytes once serialized",
                limits::METADATA_MAX_BYTES
            )));
        }
        if text.contains("\\u0000") {
            return Err(InvalidValue::new("must not contain NUL characters"));
        }
        Ok(Self(map))
    }

    /// The object.
    pub fn as_map(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.0
    }

    /// The object as a JSON value.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(self.0.clone())
    }
}

/// The names of the secrets that hold an organization's default LLM credentials, by
/// provider (`{"openai": "org-openai-key"}`). Only names: never a secret's value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LlmCredentials(BTreeMap<String, String>);

impl LlmCredentials {
    /// Reads the secrets' names by provider, each within its length limit.
    pub fn parse(
        entries: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, InvalidValue> {
        let mut map = BTreeMap::new();
        for (provider, secret) in entries {
            let provider_ok = !provider.is_empty()
                && provider.len() <= limits::LLM_PROVIDER_MAX_CHARS
                && provider
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
            if !provider_ok {
                return Err(InvalidValue::new(format!(
                    "provider names must be 1 to {} lower-case letters, digits, '_' or '-'",
                    limits::LLM_PROVIDER_MAX_CHARS
                )));
            }
            let secret_ok = !secret.is_empty()
                && secret.chars().count() <= limits::LLM_SECRET_NAME_MAX_CHARS
                && secret
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-./:".contains(c));
            if !secret_ok {
                return Err(InvalidValue::new(format!(
                    "secret names must be 1 to {} letters, digits, '_', '-', '.', '/' or ':'",
                    limits::LLM_SECRET_NAME_MAX_CHARS
                )));
            }
            map.insert(provider, secret);
        }
        if map.len() > limits::LLM_CREDENTIALS_MAX_ENTRIES {
            return Err(InvalidValue::new(format!(
                "must name at most {} providers",
                limits::LLM_CREDENTIALS_MAX_ENTRIES
            )));
        }
        Ok(Self(map))
    }

    /// The providers and their secrets' names.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether no provider is named.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A snake_case name in camelCase (`billing_email` → `billingEmail`), as the management API
/// spells field names.
pub fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organization_names_are_one_to_255_characters_and_not_blank() {
        assert!(OrganizationName::parse("Acme").is_ok());
        assert!(OrganizationName::parse("é".repeat(255)).is_ok());
        assert!(OrganizationName::parse("a".repeat(256)).is_err());
        assert!(OrganizationName::parse("").is_err());
        assert!(OrganizationName::parse("   ").is_err());
        assert!(OrganizationName::parse("a\0b").is_err());
        assert!(OrganizationName::parse("a\nb").is_err());
    }

    #[test]
    fn emails_need_a_local_part_and_a_domain() {
        assert_eq!(
            Email::parse("Jo.Smith@Example.COM").unwrap().as_str(),
            "Jo.Smith@example.com"
        );
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a b@example.com",
            "a..b@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn domain_names_are_lower_cased_and_checked_label_by_label() {
        assert_eq!(
            DomainName::parse("Acme.Example.com").unwrap().as_str(),
            "acme.example.com"
        );
        for bad in [
            "localhost",
            "-a.com",
            "a-.com",
            "a..com",
            "a_b.com",
            "1.2.3.4",
            "",
        ] {
            assert!(DomainName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_must_be_http_or_https_with_a_host() {
        assert!(HttpUrl::parse("https://example.com/logo.png").is_ok());
        assert!(HttpUrl::parse("http://localhost:8080").is_ok());
        for bad in [
            "ftp://example.com",
            "example.com",
            "https://",
            "javascript:alert(1)",
            "https://a b",
        ] {
            assert!(HttpUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quotas_span_zero_to_i32_max() {
        assert_eq!(Quota::parse(0).unwrap().get(), 0);
        assert_eq!(Quota::parse(2_147_483_647).unwrap().get(), 2_147_483_647);
        assert!(Quota::parse(-1).is_err());
        assert!(Quota::parse(2_147_483_648).is_err());
    }

    #[test]
    fn billing_cycle_days_are_one_to_28() {
        assert!(BillingCycleDay::parse(1).is_ok());
        assert!(BillingCycleDay::parse(28).is_ok());
        assert!(BillingCycleDay::parse(0).is_err());
        assert!(BillingCycleDay::parse(29).is_err());
    }

    #[test]
    fn salesforce_codes_are_at_most_50_characters() {
        assert!(SalesforceCode::parse("x".repeat(50)).is_ok());
        assert!(SalesforceCode::parse("x".repeat(51)).is_err());
    }

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn logos_are_decoded_and_checked_against_their_declared_type() {
        let url = format!("data:image/png;base64,{}", STANDARD.encode(PNG));
        let logo = Logo::parse_data_url(&url).unwrap();
        assert_eq!(logo.image_type(), ImageType::Png);
        assert_eq!(logo.to_data_url(), url);

        let lying = format!("data:image/gif;base64,{}", STANDARD.encode(PNG));
        assert!(Logo::parse_data_url(&lying).is_err());
        assert!(Logo::parse_data_url("data:image/svg+xml;base64,PHN2Zz4=").is_err());
        assert!(Logo::parse_data_url("data:image/png;base64,not base64!").is_err());
        assert!(Logo::parse_data_url("https://example.com/logo.png").is_err());
    }

    #[test]
    fn logos_larger_than_one_mebibyte_are_rejected() {
        let mut big = PNG.to_vec();
        big.resize(limits::LOGO_MAX_BYTES + 1, 0);
        assert!(Logo::from_bytes(ImageType::Png, big.clone()).is_err());
        let url = format!("data:image/png;base64,{}", STANDARD.encode(&big));
        assert!(Logo::parse_data_url(&url).is_err());
        big.truncate(limits::LOGO_MAX_BYTES);
        assert!(Logo::from_bytes(ImageType::Png, big).is_ok());
    }

    #[test]
    fn modules_are_a_non_empty_set_of_the_seven_documented_values() {
        let modules = Modules::parse(["Search", "Assets", "Search"]).unwrap();
        assert_eq!(
            modules.iter().collect::<Vec<_>>(),
            [Module::Assets, Module::Search]
        );
        assert!(Modules::parse([]).is_err());
        assert!(Modules::parse(["assets"]).is_err());
        assert_eq!(Modules::all().iter().count(), 7);
    }

    #[test]
    fn metadata_is_an_object_of_bounded_size() {
        assert!(Metadata::parse(serde_json::json!({"a": 1})).is_ok());
        assert!(Metadata::parse(serde_json::json!([1])).is_err());
        let many: serde_json::Map<_, _> = (0..65)
            .map(|i| (format!("k{i}"), serde_json::Value::Null))
            .collect();
        assert!(Metadata::from_map(many).is_err());
        assert!(Metadata::parse(serde_json::json!({"a": "x".repeat(16 * 1024)})).is_err());
        assert!(Metadata::parse(serde_json::json!({"a": "nul\u{0}"})).is_err());
    }

    #[test]
    fn llm_credentials_map_providers_to_secret_names() {
        let ok = LlmCredentials::parse([("openai".to_owned(), "org/openai-key".to_owned())]);
        assert!(ok.is_ok());
        assert!(LlmCredentials::parse([("OpenAI".to_owned(), "k".to_owned())]).is_err());
        assert!(LlmCredentials::parse([("openai".to_owned(), "sk live".to_owned())]).is_err());
        assert!(LlmCredentials::parse([("openai".to_owned(), String::new())]).is_err());
    }
}
