//! A container's environment as the kubelet builds it: `envFrom` first, then `env` (later
//! entries override earlier ones), `$(VAR)` expansion, the downward API (`fieldRef`,
//! `resourceFieldRef`), ConfigMap and Secret keys, and the Service link variables.
//! The pure parts (expansion, field paths, quantities) are public for the volume code; this
//! file does not run anything in a container.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{ConfigMap, Container, Node, Pod, ResourceFieldSelector, Secret, Service};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::Api;
use kube::api::ListParams;

/// What [`resolve`] needs besides the container.
pub struct EnvContext<'a> {
    pub client: &'a kube::Client,
    pub pod: &'a Pod,
    pub node_name: &'a str,
    pub host_ip: &'a str,
    pub pod_ip: Option<&'a str>,
    pub pod_ips: &'a [String],
}

/// Why a container's environment could not be built. Display is the kubelet's message, shown
/// as the container's `CreateContainerConfigError`.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error("configmap \"{name}\" not found")]
    ConfigMapNotFound { name: String },
    #[error("secret \"{name}\" not found")]
    SecretNotFound { name: String },
    #[error("couldn't find key {key} in ConfigMap {namespace}/{name}")]
    ConfigMapKeyMissing { key: String, namespace: String, name: String },
    #[error("couldn't find key {key} in Secret {namespace}/{name}")]
    SecretKeyMissing { key: String, namespace: String, name: String },
    #[error("unsupported fieldPath: {0}")]
    UnsupportedFieldPath(String),
    #[error("unsupported container resource : {0}")]
    UnsupportedResource(String),
    #[error("container \"{0}\" not found in the pod")]
    NoSuchContainer(String),
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {0:?}")]
    InvalidQuantity(String),
    #[error("divisor {0:?} is zero at this scale")]
    ZeroDivisor(String),
    #[error("reading {what}: {source}")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
}

/// The facts about the node and the pod's network that field paths may name.
#[derive(Debug, Clone, Default)]
pub struct PodFacts {
    pub node_name: String,
    pub host_ips: Vec<String>,
    pub pod_ips: Vec<String>,
}

/// The container's environment in the kubelet's precedence: `envFrom` sources in order, then
/// `env` in order (an `env` entry replaces a same-named earlier one in place), then the
/// Service variables not already set.
pub async fn resolve(ctx: &EnvContext<'_>, container: &Container) -> Result<Vec<(String, String)>, EnvError> {
    let namespace = ctx.pod.metadata.namespace.clone().unwrap_or_else(|| "default".to_owned());
    let mut sources = ApiSources::new(ctx.client, &namespace);
    let service_env = service_env(ctx, &namespace).await?;
    let mut env = OrderedEnv::default();

    for from in container.env_from.iter().flatten() {
        let prefix = from.prefix.as_deref().unwrap_or("");
        if let Some(source) = &from.config_map_ref {
            let optional = source.optional.unwrap_or(false);
            match sources.config_map(&source.name).await? {
                Some(config_map) => {
                    for (key, value) in config_map.data.iter().flatten() {
                        env.set(format!("{prefix}{key}"), value.clone());
                    }
                }
                None if optional => {}
                None => return Err(EnvError::ConfigMapNotFound { name: source.name.clone() }),
            }
        } else if let Some(source) = &from.secret_ref {
            let optional = source.optional.unwrap_or(false);
            match sources.secret(&source.name).await? {
                Some(secret) => {
                    for (key, value) in secret.data.iter().flatten() {
                        env.set(format!("{prefix}{key}"), String::from_utf8_lossy(&value.0).into_owned());
                    }
                }
                None if optional => {}
                None => return Err(EnvError::SecretNotFound { name: source.name.clone() }),
            }
        }
    }

    let facts = PodFacts {
        node_name: ctx.pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_else(|| ctx.node_name.to_owned()),
        host_ips: host_ips(ctx),
        pod_ips: pod_ips(ctx),
    };
    let mut allocatable: Option<BTreeMap<String, Quantity>> = None;
    for var in container.env.iter().flatten() {
        let value = var.value.as_deref().unwrap_or("");
        let value = if !value.is_empty() {
            expand(value, |name| {
                env.get(name).or_else(|| service_env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()))
            })
        } else if let Some(from) = &var.value_from {
            if let Some(field) = &from.field_ref {
                pod_field_value(ctx.pod, &field.field_path, &facts)?
            } else if let Some(selector) = &from.resource_field_ref {
                let target = selected_container(ctx.pod, container, selector)?;
                if allocatable.is_none() && needs_allocatable(selector, target) {
                    allocatable = Some(node_allocatable(ctx.client, ctx.node_name).await?);
                }
                container_resource_value(selector, target, allocatable.as_ref().unwrap_or(&BTreeMap::new()))?
            } else if let Some(key_ref) = &from.config_map_key_ref {
                let optional = key_ref.optional.unwrap_or(false);
                let Some(config_map) = sources.config_map(&key_ref.name).await? else {
                    if optional {
                        continue;
                    }
                    return Err(EnvError::ConfigMapNotFound { name: key_ref.name.clone() });
                };
                match config_map.data.as_ref().and_then(|d| d.get(&key_ref.key)) {
                    Some(value) => value.clone(),
                    None if optional => continue,
                    None => {
                        return Err(EnvError::ConfigMapKeyMissing {
                            key: key_ref.key.clone(),
                            namespace: namespace.clone(),
                            name: key_ref.name.clone(),
                        });
                    }
                }
            } else if let Some(key_ref) = &from.secret_key_ref {
                let optional = key_ref.optional.unwrap_or(false);
                let Some(secret) = sources.secret(&key_ref.name).await? else {
                    if optional {
                        continue;
                    }
                    return Err(EnvError::SecretNotFound { name: key_ref.name.clone() });
                };
                match secret.data.as_ref().and_then(|d| d.get(&key_ref.key)) {
                    Some(value) => String::from_utf8_lossy(&value.0).into_owned(),
                    None if optional => continue,
                    None => {
                        return Err(EnvError::SecretKeyMissing {
                            key: key_ref.key.clone(),
                            namespace: namespace.clone(),
                            name: key_ref.name.clone(),
                        });
                    }
                }
            } else {
                String::new()
            }
        } else {
            String::new()
        };
        env.set(var.name.clone(), value);
    }

    let mut result = env.into_vec();
    for (name, value) in service_env {
        if !result.iter().any(|(k, _)| *k == name) {
            result.push((name, value));
        }
    }
    Ok(result)
}

/// Variables in first-declared order with last-set values.
#[derive(Default)]
struct OrderedEnv {
    vars: Vec<(String, String)>,
    index: HashMap<String, usize>,
}

impl OrderedEnv {
    fn set(&mut self, name: String, value: String) {
        match self.index.get(&name) {
            Some(&at) => self.vars[at].1 = value,
            None => {
                self.index.insert(name.clone(), self.vars.len());
                self.vars.push((name, value));
            }
        }
    }
    fn get(&self, name: &str) -> Option<&str> {
        self.index.get(name).map(|&at| self.vars[at].1.as_str())
    }
    fn into_vec(self) -> Vec<(String, String)> {
        self.vars
    }
}

/// ConfigMaps and Secrets read once per resolution, as the kubelet caches them per call.
struct ApiSources<'a> {
    client: &'a kube::Client,
    namespace: &'a str,
    config_maps: HashMap<String, Option<ConfigMap>>,
    secrets: HashMap<String, Option<Secret>>,
}

impl<'a> ApiSources<'a> {
    fn new(client: &'a kube::Client, namespace: &'a str) -> Self {
        ApiSources { client, namespace, config_maps: HashMap::new(), secrets: HashMap::new() }
    }
    async fn config_map(&mut self, name: &str) -> Result<Option<ConfigMap>, EnvError> {
        if !self.config_maps.contains_key(name) {
            let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), self.namespace);
            let found = api
                .get_opt(name)
                .await
                .map_err(|source| EnvError::Api { what: format!("configmap {name:?}"), source })?;
            self.config_maps.insert(name.to_owned(), found);
        }
        Ok(self.config_maps.get(name).cloned().flatten())
    }
    async fn secret(&mut self, name: &str) -> Result<Option<Secret>, EnvError> {
        if !self.secrets.contains_key(name) {
            let api: Api<Secret> = Api::namespaced(self.client.clone(), self.namespace);
            let found =
                api.get_opt(name).await.map_err(|source| EnvError::Api { what: format!("secret {name:?}"), source })?;
            self.secrets.insert(name.to_owned(), found);
        }
        Ok(self.secrets.get(name).cloned().flatten())
    }
}

/// This node's addresses: the one the runtime knows first (the pod's status may not be written
/// yet), then any others the status lists.
fn host_ips(ctx: &EnvContext<'_>) -> Vec<String> {
    let mut ips: Vec<String> = Vec::new();
    if !ctx.host_ip.is_empty() {
        ips.push(ctx.host_ip.to_owned());
    }
    for ip in ctx.pod.status.iter().flat_map(|s| s.host_ips.iter().flatten()) {
        if !ips.contains(&ip.ip) {
            ips.push(ip.ip.clone());
        }
    }
    ips
}

fn pod_ips(ctx: &EnvContext<'_>) -> Vec<String> {
    if !ctx.pod_ips.is_empty() {
        return ctx.pod_ips.to_vec();
    }
    ctx.pod_ip.map(|ip| vec![ip.to_owned()]).unwrap_or_default()
}

async fn node_allocatable(client: &kube::Client, node_name: &str) -> Result<BTreeMap<String, Quantity>, EnvError> {
    let api: Api<Node> = Api::all(client.clone());
    let node =
        api.get_opt(node_name).await.map_err(|source| EnvError::Api { what: format!("node {node_name:?}"), source })?;
    Ok(node.and_then(|n| n.status).and_then(|s| s.allocatable).unwrap_or_default())
}

/// The Service variables: the `kubernetes` Service of `default` always (as the kubelet's
/// master services), and every Service of the pod's namespace unless `enableServiceLinks` is
/// false. Sorted by Service name so the order is stable.
async fn service_env(ctx: &EnvContext<'_>, namespace: &str) -> Result<Vec<(String, String)>, EnvError> {
    let links = ctx.pod.spec.as_ref().and_then(|s| s.enable_service_links).unwrap_or(true);
    let mut services: BTreeMap<String, Service> = BTreeMap::new();
    if links {
        let api: Api<Service> = Api::namespaced(ctx.client.clone(), namespace);
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(|source| EnvError::Api { what: format!("services in {namespace:?}"), source })?;
        for service in list.items {
            if let Some(name) = service.metadata.name.clone() {
                services.insert(name, service);
            }
        }
    }
    if namespace != "default" || !links {
        let api: Api<Service> = Api::namespaced(ctx.client.clone(), "default");
        let master = api
            .get_opt("kubernetes")
            .await
            .map_err(|source| EnvError::Api { what: "service \"default/kubernetes\"".to_owned(), source })?;
        if let Some(master) = master {
            services.entry("kubernetes".to_owned()).or_insert(master);
        }
    }
    Ok(services.values().flat_map(service_link_variables).collect())
}

/// One Service's variables, as the kubelet's `envvars.FromServices`.
pub fn service_link_variables(service: &Service) -> Vec<(String, String)> {
    let Some(spec) = &service.spec else { return Vec::new() };
    let ip = spec.cluster_ip.as_deref().unwrap_or("");
    let ports = spec.ports.as_deref().unwrap_or(&[]);
    if ip.is_empty() || ip == "None" || ports.is_empty() {
        return Vec::new();
    }
    let prefix = env_variable_name(service.metadata.name.as_deref().unwrap_or(""));
    let mut vars = vec![(format!("{prefix}_SERVICE_HOST"), ip.to_owned())];
    vars.push((format!("{prefix}_SERVICE_PORT"), ports[0].port.to_string()));
    for port in ports {
        if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty()) {
            vars.push((format!("{prefix}_SERVICE_PORT_{}", env_variable_name(name)), port.port.to_string()));
        }
    }
    let host = if ip.contains(':') { format!("[{ip}]") } else { ip.to_owned() };
    for (i, port) in ports.iter().enumerate() {
        let protocol = port.protocol.as_deref().filter(|p| !p.is_empty()).unwrap_or("TCP");
        let lower = protocol.to_lowercase();
        let url = format!("{lower}://{host}:{}", port.port);
        if i == 0 {
            vars.push((format!("{prefix}_PORT"), url.clone()));
        }
        let port_prefix = format!("{prefix}_PORT_{}_{}", port.port, protocol.to_uppercase());
        vars.push((port_prefix.clone(), url));
        vars.push((format!("{port_prefix}_PROTO"), lower));
        vars.push((format!("{port_prefix}_PORT"), port.port.to_string()));
        vars.push((format!("{port_prefix}_ADDR"), ip.to_owned()));
    }
    vars
}

fn env_variable_name(name: &str) -> String {
    name.to_uppercase().replace('-', "_")
}

/// Kubernetes' `$(VAR)` expansion: `$(NAME)` becomes the mapped value or stays verbatim when
/// unknown, `$$` is a literal `$`, and any other `$` is kept.
pub fn expand<'v>(input: &str, lookup: impl Fn(&str) -> Option<&'v str>) -> String {
    let bytes = input.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < bytes.len() {
        if bytes[cursor] == b'$' && cursor + 1 < bytes.len() {
            out.extend_from_slice(&bytes[checkpoint..cursor]);
            let rest = &bytes[cursor + 1..];
            let advance = match rest[0] {
                b'$' => {
                    out.push(b'$');
                    1
                }
                b'(' => match rest.iter().position(|&b| b == b')') {
                    Some(close) => {
                        let name = &input[cursor + 2..cursor + 1 + close];
                        match lookup(name) {
                            Some(value) => out.extend_from_slice(value.as_bytes()),
                            None => out.extend_from_slice(format!("$({name})").as_bytes()),
                        }
                        close + 1
                    }
                    None => {
                        out.extend_from_slice(b"$(");
                        1
                    }
                },
                other => {
                    out.push(b'$');
                    out.push(other);
                    1
                }
            };
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    out.extend_from_slice(&bytes[checkpoint.min(bytes.len())..]);
    // Only whole UTF-8 sequences were copied: the split points are ASCII bytes.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A pod field for `env[].valueFrom.fieldRef`: the metadata fields of
/// [`metadata_field_value`] plus `spec.nodeName`, `spec.serviceAccountName`,
/// `status.hostIP(s)` and `status.podIP(s)`.
pub fn pod_field_value(pod: &Pod, field_path: &str, facts: &PodFacts) -> Result<String, EnvError> {
    let spec = pod.spec.as_ref();
    Ok(match field_path {
        "spec.nodeName" => facts.node_name.clone(),
        "spec.serviceAccountName" => {
            spec.and_then(|s| s.service_account_name.clone()).unwrap_or_else(|| "default".to_owned())
        }
        "status.hostIP" => facts.host_ips.first().cloned().unwrap_or_default(),
        "status.hostIPs" => facts.host_ips.join(","),
        "status.podIP" => facts.pod_ips.first().cloned().unwrap_or_default(),
        "status.podIPs" => facts.pod_ips.join(","),
        other => return metadata_field_value(pod, other),
    })
}

/// The metadata fields both the env and the downwardAPI volume offer: `metadata.name`,
/// `.namespace`, `.uid`, `.labels`, `.annotations` (all entries, `key="value"` lines sorted by
/// key) and `.labels['k']`, `.annotations['k']` (empty when absent).
pub fn metadata_field_value(pod: &Pod, field_path: &str) -> Result<String, EnvError> {
    let meta = &pod.metadata;
    let empty = BTreeMap::new();
    let labels = meta.labels.as_ref().unwrap_or(&empty);
    let annotations = meta.annotations.as_ref().unwrap_or(&empty);
    Ok(match field_path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "metadata.labels" => format_map(labels),
        "metadata.annotations" => format_map(annotations),
        other => {
            if let Some(key) = subscript(other, "metadata.labels") {
                labels.get(key).cloned().unwrap_or_default()
            } else if let Some(key) = subscript(other, "metadata.annotations") {
                annotations.get(key).cloned().unwrap_or_default()
            } else {
                return Err(EnvError::UnsupportedFieldPath(other.to_owned()));
            }
        }
    })
}

/// `metadata.labels['key']` → `key`.
fn subscript<'p>(path: &'p str, field: &str) -> Option<&'p str> {
    path.strip_prefix(field)?.strip_prefix("['")?.strip_suffix("']")
}

/// The kubelet's `fieldpath.FormatMap`: `key="value"` lines in key order, values quoted as Go's
/// `%q`, no newline after the last.
pub fn format_map(map: &BTreeMap<String, String>) -> String {
    map.iter().map(|(k, v)| format!("{k}={}", go_quote(v))).collect::<Vec<_>>().join("\n")
}

/// Go's `strconv.Quote` for valid UTF-8.
fn go_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => {
                if (c as u32) <= 0xffff {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The container a `resourceFieldRef` names (`containerName`, or the one asking).
pub fn selected_container<'c>(
    pod: &'c Pod,
    asking: &'c Container,
    selector: &ResourceFieldSelector,
) -> Result<&'c Container, EnvError> {
    match selector.container_name.as_deref().filter(|n| !n.is_empty()) {
        None => Ok(asking),
        Some(name) if name == asking.name => Ok(asking),
        Some(name) => pod
            .spec
            .iter()
            .flat_map(|s| s.containers.iter().chain(s.init_containers.iter().flatten()))
            .find(|c| c.name == name)
            .ok_or_else(|| EnvError::NoSuchContainer(name.to_owned())),
    }
}

/// Whether [`container_resource_value`] needs the node's allocatable resources: a limit that
/// the container does not set defaults to them, as the kubelet's.
pub fn needs_allocatable(selector: &ResourceFieldSelector, container: &Container) -> bool {
    let Some(resource) = selector.resource.strip_prefix("limits.") else { return false };
    !container.resources.as_ref().and_then(|r| r.limits.as_ref()).is_some_and(|l| l.contains_key(resource))
}

/// A `resourceFieldRef`'s value, as the kubelet's `ExtractContainerResourceValue`: CPU is
/// `ceil(milli(value) / milli(divisor))`, memory, ephemeral storage and huge pages
/// `ceil(value / divisor)`; the divisor defaults to 1; unset limits are the node's allocatable.
pub fn container_resource_value(
    selector: &ResourceFieldSelector,
    container: &Container,
    allocatable: &BTreeMap<String, Quantity>,
) -> Result<String, EnvError> {
    let divisor_text = selector.divisor.as_ref().map(|d| d.0.as_str()).filter(|d| !d.is_empty()).unwrap_or("1");
    let divisor = ParsedQuantity::parse(divisor_text)?;
    let divisor = if divisor.is_zero() { ParsedQuantity::parse("1")? } else { divisor };
    let resources = container.resources.as_ref();
    let (set, name) = if let Some(name) = selector.resource.strip_prefix("limits.") {
        (resources.and_then(|r| r.limits.as_ref()), name)
    } else if let Some(name) = selector.resource.strip_prefix("requests.") {
        (resources.and_then(|r| r.requests.as_ref()), name)
    } else {
        return Err(EnvError::UnsupportedResource(selector.resource.clone()));
    };
    if !matches!(name, "cpu" | "memory" | "ephemeral-storage") && !name.starts_with("hugepages-") {
        return Err(EnvError::UnsupportedResource(selector.resource.clone()));
    }
    let limits = selector.resource.starts_with("limits.");
    let value = match set.and_then(|s| s.get(name)) {
        Some(q) => ParsedQuantity::parse(&q.0)?,
        None if limits => match allocatable.get(name) {
            Some(q) => ParsedQuantity::parse(&q.0)?,
            None => ParsedQuantity::zero(),
        },
        None => ParsedQuantity::zero(),
    };
    let result = if name == "cpu" {
        let d = divisor.ceil_scaled(1000);
        if d == 0 {
            return Err(EnvError::ZeroDivisor(divisor_text.to_owned()));
        }
        ceil_div(value.ceil_scaled(1000), d)
    } else {
        let d = divisor.ceil_scaled(1);
        if d == 0 {
            return Err(EnvError::ZeroDivisor(divisor_text.to_owned()));
        }
        ceil_div(value.ceil_scaled(1), d)
    };
    Ok(result.to_string())
}

fn ceil_div(a: i128, b: i128) -> i128 {
    let q = a.div_euclid(b);
    if a.rem_euclid(b) != 0 { q + 1 } else { q }
}

/// A Kubernetes resource quantity as an exact fraction `num / den`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedQuantity {
    num: i128,
    den: i128,
}

impl ParsedQuantity {
    fn zero() -> Self {
        ParsedQuantity { num: 0, den: 1 }
    }

    fn is_zero(&self) -> bool {
        self.num == 0
    }

    /// Parses `<number><suffix>`: binary (`Ki` … `Ei`), decimal SI (`n u m k M G T P E`) or a
    /// decimal exponent (`e3`, `E-2`).
    pub fn parse(text: &str) -> Result<Self, EnvError> {
        let bad = || EnvError::InvalidQuantity(text.to_owned());
        let s = text.trim();
        let (negative, s) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let number_end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
        let (number, suffix) = s.split_at(number_end);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') || whole.len() + fraction.len() > 30 {
            return Err(bad());
        }
        let mut num: i128 = 0;
        for digit in whole.bytes().chain(fraction.bytes()) {
            num = num.checked_mul(10).and_then(|n| n.checked_add(i128::from(digit - b'0'))).ok_or_else(bad)?;
        }
        let mut den: i128 = 10i128.checked_pow(u32::try_from(fraction.len()).map_err(|_| bad())?).ok_or_else(bad)?;
        let (multiplier, exp10): (i128, i32) = match suffix {
            "" => (1, 0),
            "Ki" => (1 << 10, 0),
            "Mi" => (1 << 20, 0),
            "Gi" => (1 << 30, 0),
            "Ti" => (1 << 40, 0),
            "Pi" => (1 << 50, 0),
            "Ei" => (1 << 60, 0),
            "n" => (1, -9),
            "u" => (1, -6),
            "m" => (1, -3),
            "k" => (1, 3),
            "M" => (1, 6),
            "G" => (1, 9),
            "T" => (1, 12),
            "P" => (1, 15),
            "E" => (1, 18),
            other => {
                let exponent = other.strip_prefix(['e', 'E']).ok_or_else(bad)?;
                let exponent: i32 = exponent.parse().map_err(|_| bad())?;
                if !(-30..=30).contains(&exponent) {
                    return Err(bad());
                }
                (1, exponent)
            }
        };
        num = num.checked_mul(multiplier).ok_or_else(bad)?;
        if exp10 >= 0 {
            num = num.checked_mul(10i128.pow(exp10.unsigned_abs())).ok_or_else(bad)?;
        } else {
            den = den.checked_mul(10i128.pow(exp10.unsigned_abs())).ok_or_else(bad)?;
        }
        Ok(ParsedQuantity { num: if negative { -num } else { num }, den })
    }

    /// `ceil(self * scale)`, as Quantity's `Value()` (scale 1) and `MilliValue()` (1000).
    pub fn ceil_scaled(&self, scale: i128) -> i128 {
        match self.num.checked_mul(scale) {
            Some(n) => ceil_div(n, self.den),
            None => ceil_div(self.num, self.den).saturating_mul(scale),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ResourceRequirements, ServicePort, ServiceSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    #[test]
    fn expansion_follows_kubernetes() {
        let vars: HashMap<&str, &str> = [("A", "a"), ("EMPTY", "")].into_iter().collect();
        let check = |input: &str, want: &str| {
            assert_eq!(expand(input, |name| vars.get(name).copied()), want, "input {input:?}");
        };
        check("$(A)", "a");
        check("x$(A)y$(A)", "xaya");
        check("$(B)", "$(B)");
        check("$$(A)", "$(A)");
        check("$$$(A)", "$a");
        check("$(EMPTY)-", "-");
        check("$(A", "$(A");
        check("$", "$");
        check("a$b", "a$b");
        check("$(A)$", "a$");
        check("é$(A)ü", "éaü");
        check("$é", "$é");
        check("", "");
    }

    fn pod() -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("web-0".into()),
                namespace: Some("prod".into()),
                uid: Some("u-1".into()),
                labels: Some([("app".into(), "web".into()), ("tier".into(), "a\"b\nc".into())].into_iter().collect()),
                annotations: Some(BTreeMap::new()),
                ..ObjectMeta::default()
            },
            ..Pod::default()
        }
    }

    #[test]
    fn field_paths() {
        let pod = pod();
        let facts = PodFacts {
            node_name: "n1".into(),
            host_ips: vec!["10.0.0.1".into(), "fd00::1".into()],
            pod_ips: vec!["10.42.0.5".into()],
        };
        let check = |path: &str, want: &str| {
            assert_eq!(pod_field_value(&pod, path, &facts).unwrap(), want, "path {path}");
        };
        check("metadata.name", "web-0");
        check("metadata.namespace", "prod");
        check("metadata.uid", "u-1");
        check("metadata.labels", "app=\"web\"\ntier=\"a\\\"b\\nc\"");
        check("metadata.labels['app']", "web");
        check("metadata.labels['none']", "");
        check("metadata.annotations", "");
        check("spec.nodeName", "n1");
        check("spec.serviceAccountName", "default");
        check("status.hostIP", "10.0.0.1");
        check("status.hostIPs", "10.0.0.1,fd00::1");
        check("status.podIP", "10.42.0.5");
        check("status.podIPs", "10.42.0.5");
        let err = pod_field_value(&pod, "spec.bogus", &facts).unwrap_err();
        assert_eq!(err.to_string(), "unsupported fieldPath: spec.bogus");
        assert!(metadata_field_value(&pod, "spec.nodeName").is_err());
    }

    #[test]
    fn quantities_parse_exactly() {
        let check = |text: &str, value: i128, milli: i128| {
            let q = ParsedQuantity::parse(text).unwrap();
            assert_eq!((q.ceil_scaled(1), q.ceil_scaled(1000)), (value, milli), "{text}");
        };
        check("1", 1, 1000);
        check("250m", 1, 250);
        check("1.5", 2, 1500);
        check("0.1m", 1, 1);
        check("1n", 1, 1);
        check("128Mi", 134_217_728, 134_217_728_000);
        check("1k", 1000, 1_000_000);
        check("1e3", 1000, 1_000_000);
        check("2E-3", 1, 2);
        check(".5", 1, 500);
        check("1Ei", 1 << 60, (1 << 60) * 1000);
        for bad in ["", "abc", "1.2.3", "1Q", "m", "1e", "--1"] {
            assert!(ParsedQuantity::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    fn container(limits: &[(&str, &str)], requests: &[(&str, &str)]) -> Container {
        let map = |pairs: &[(&str, &str)]| -> Option<BTreeMap<String, Quantity>> {
            Some(pairs.iter().map(|(k, v)| ((*k).to_owned(), Quantity((*v).to_owned()))).collect())
        };
        Container {
            name: "app".into(),
            resources: Some(ResourceRequirements {
                limits: map(limits),
                requests: map(requests),
                ..Default::default()
            }),
            ..Container::default()
        }
    }

    #[test]
    fn resource_field_refs_round_up_to_the_divisor() {
        let c = container(&[("cpu", "250m"), ("memory", "100Mi")], &[("cpu", "100m"), ("memory", "1000")]);
        let allocatable: BTreeMap<String, Quantity> =
            [("ephemeral-storage".to_owned(), Quantity("10Gi".into()))].into_iter().collect();
        let check = |resource: &str, divisor: Option<&str>, want: &str| {
            let selector = ResourceFieldSelector {
                resource: resource.into(),
                divisor: divisor.map(|d| Quantity(d.into())),
                container_name: None,
            };
            assert_eq!(
                container_resource_value(&selector, &c, &allocatable).unwrap(),
                want,
                "{resource} / {divisor:?}"
            );
        };
        check("limits.cpu", None, "1");
        check("limits.cpu", Some("1m"), "250");
        check("limits.cpu", Some("100m"), "3");
        check("requests.cpu", Some("1m"), "100");
        check("limits.memory", None, "104857600");
        check("limits.memory", Some("1Mi"), "100");
        check("limits.memory", Some("1M"), "105");
        check("requests.memory", Some("1Ki"), "1");
        check("limits.ephemeral-storage", Some("1Gi"), "10");
        check("requests.ephemeral-storage", None, "0");
        check("limits.cpu", Some("0"), "1");
        let selector = ResourceFieldSelector { resource: "limits.gpu".into(), ..Default::default() };
        assert_eq!(
            container_resource_value(&selector, &c, &allocatable).unwrap_err().to_string(),
            "unsupported container resource : limits.gpu"
        );
        let unset = ResourceFieldSelector { resource: "limits.ephemeral-storage".into(), ..Default::default() };
        assert!(needs_allocatable(&unset, &c));
        let set = ResourceFieldSelector { resource: "limits.cpu".into(), ..Default::default() };
        assert!(!needs_allocatable(&set, &c));
    }

    #[test]
    fn service_links_like_docker() {
        let service = Service {
            metadata: ObjectMeta { name: Some("my-db".into()), ..Default::default() },
            spec: Some(ServiceSpec {
                cluster_ip: Some("10.43.0.10".into()),
                ports: Some(vec![
                    ServicePort { port: 5432, name: Some("pg".into()), ..Default::default() },
                    ServicePort { port: 53, protocol: Some("UDP".into()), ..Default::default() },
                ]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let vars = service_link_variables(&service);
        let want = [
            ("MY_DB_SERVICE_HOST", "10.43.0.10"),
            ("MY_DB_SERVICE_PORT", "5432"),
            ("MY_DB_SERVICE_PORT_PG", "5432"),
            ("MY_DB_PORT", "tcp://10.43.0.10:5432"),
            ("MY_DB_PORT_5432_TCP", "tcp://10.43.0.10:5432"),
            ("MY_DB_PORT_5432_TCP_PROTO", "tcp"),
            ("MY_DB_PORT_5432_TCP_PORT", "5432"),
            ("MY_DB_PORT_5432_TCP_ADDR", "10.43.0.10"),
            ("MY_DB_PORT_53_UDP", "udp://10.43.0.10:53"),
            ("MY_DB_PORT_53_UDP_PROTO", "udp"),
            ("MY_DB_PORT_53_UDP_PORT", "53"),
            ("MY_DB_PORT_53_UDP_ADDR", "10.43.0.10"),
        ];
        let want: Vec<(String, String)> = want.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        assert_eq!(vars, want);
        let mut headless = service.clone();
        headless.spec.as_mut().unwrap().cluster_ip = Some("None".into());
        assert!(service_link_variables(&headless).is_empty());
    }

    #[test]
    fn later_env_entries_override_in_place() {
        let mut env = OrderedEnv::default();
        env.set("A".into(), "1".into());
        env.set("B".into(), "2".into());
        env.set("A".into(), "3".into());
        assert_eq!(env.into_vec(), vec![("A".into(), "3".into()), ("B".into(), "2".into())]);
    }
}

#[cfg(test)]
mod resolve_tests {
    use super::*;
    use crate::kubelet::volumes::fake_api;
    use serde_json::json;

    fn objects() -> HashMap<String, serde_json::Value> {
        let mut objects = HashMap::new();
        objects.insert(
            "/api/v1/namespaces/prod/configmaps/settings".to_owned(),
            json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "settings" },
                    "data": { "MODE": "fast", "LEVEL": "3" } }),
        );
        objects.insert(
            "/api/v1/namespaces/prod/secrets/creds".to_owned(),
            json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "creds" },
                    "data": { "password": "aHVudGVyMg==" } }),
        );
        objects.insert(
            "/api/v1/namespaces/default/services/kubernetes".to_owned(),
            json!({ "apiVersion": "v1", "kind": "Service", "metadata": { "name": "kubernetes", "namespace": "default" },
                    "spec": { "clusterIP": "10.43.0.1", "ports": [{ "name": "https", "port": 443, "protocol": "TCP" }] } }),
        );
        objects.insert(
            "/api/v1/namespaces/prod/services/db".to_owned(),
            json!({ "apiVersion": "v1", "kind": "Service", "metadata": { "name": "db", "namespace": "prod" },
                    "spec": { "clusterIP": "10.43.0.9", "ports": [{ "port": 5432 }] } }),
        );
        objects.insert(
            "/api/v1/nodes/n1".to_owned(),
            json!({ "apiVersion": "v1", "kind": "Node", "metadata": { "name": "n1" },
                    "status": { "allocatable": { "cpu": "4", "memory": "8Gi" } } }),
        );
        objects
    }

    fn pod(links: bool) -> Pod {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": { "name": "web-0", "namespace": "prod", "uid": "u1" },
            "spec": { "nodeName": "n1", "enableServiceLinks": links, "containers": [{ "name": "app", "image": "x" }] }
        }))
        .unwrap()
    }

    async fn run(
        client: &kube::Client,
        pod: &Pod,
        container: serde_json::Value,
    ) -> Result<Vec<(String, String)>, EnvError> {
        let container: Container = serde_json::from_value(container).unwrap();
        let pod_ips = vec!["10.42.0.7".to_owned()];
        let ctx = EnvContext {
            client,
            pod,
            node_name: "n1",
            host_ip: "192.168.1.5",
            pod_ip: Some("10.42.0.7"),
            pod_ips: &pod_ips,
        };
        resolve(&ctx, &container).await
    }

    #[tokio::test]
    async fn resolves_in_kubelet_precedence() {
        let (client, _) = fake_api::serve(objects()).await;
        let env = run(&client, &pod(false), json!({
            "name": "app",
            "envFrom": [{ "configMapRef": { "name": "settings" } }, { "prefix": "S_", "secretRef": { "name": "creds" } },
                        { "configMapRef": { "name": "absent", "optional": true } }],
            "env": [
                { "name": "LEVEL", "value": "$(MODE)-$(LEVEL)-$$(MODE)-$(NOPE)" },
                { "name": "POD", "valueFrom": { "fieldRef": { "fieldPath": "metadata.name" } } },
                { "name": "IP", "valueFrom": { "fieldRef": { "fieldPath": "status.podIP" } } },
                { "name": "HOST", "valueFrom": { "fieldRef": { "fieldPath": "status.hostIP" } } },
                { "name": "URL", "value": "https://$(KUBERNETES_SERVICE_HOST):$(KUBERNETES_SERVICE_PORT)/$(POD)" },
                { "name": "PASS", "valueFrom": { "secretKeyRef": { "name": "creds", "key": "password" } } },
                { "name": "OPT", "valueFrom": { "configMapKeyRef": { "name": "settings", "key": "nope", "optional": true } } },
                { "name": "CPU", "valueFrom": { "resourceFieldRef": { "resource": "limits.cpu", "divisor": "1m" } } },
                { "name": "EMPTY", "value": "" }
            ]
        }))
        .await
        .unwrap();
        let get = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).take(9).collect();
        assert_eq!(names, ["LEVEL", "MODE", "S_password", "POD", "IP", "HOST", "URL", "PASS", "CPU"]);
        assert_eq!(get("LEVEL"), Some("fast-3-$(MODE)-$(NOPE)"));
        assert_eq!(get("S_password"), Some("hunter2"));
        assert_eq!(get("POD"), Some("web-0"));
        assert_eq!(get("IP"), Some("10.42.0.7"));
        assert_eq!(get("HOST"), Some("192.168.1.5"));
        assert_eq!(get("URL"), Some("https://10.43.0.1:443/web-0"));
        assert_eq!(get("PASS"), Some("hunter2"));
        assert_eq!(get("OPT"), None);
        assert_eq!(get("CPU"), Some("4000"), "node allocatable for an unset limit");
        assert_eq!(get("EMPTY"), Some(""));
        assert_eq!(get("KUBERNETES_PORT_443_TCP"), Some("tcp://10.43.0.1:443"));
        assert_eq!(get("KUBERNETES_SERVICE_PORT_HTTPS"), Some("443"));
        assert_eq!(get("DB_SERVICE_HOST"), None, "enableServiceLinks: false");

        let linked = run(&client, &pod(true), json!({ "name": "app" })).await.unwrap();
        assert!(linked.iter().any(|(k, v)| k == "DB_SERVICE_HOST" && v == "10.43.0.9"));
        assert!(linked.iter().any(|(k, _)| k == "KUBERNETES_SERVICE_HOST"));
    }

    #[tokio::test]
    async fn missing_sources_fail_with_the_kubelet_message() {
        let (client, _) = fake_api::serve(objects()).await;
        let pod = pod(false);
        let check = |container: serde_json::Value, want: &'static str| {
            let client = client.clone();
            let pod = pod.clone();
            async move {
                assert_eq!(run(&client, &pod, container).await.unwrap_err().to_string(), want);
            }
        };
        check(json!({ "name": "app", "envFrom": [{ "configMapRef": { "name": "x" } }] }), "configmap \"x\" not found")
            .await;
        check(json!({ "name": "app", "envFrom": [{ "secretRef": { "name": "y" } }] }), "secret \"y\" not found").await;
        check(
            json!({ "name": "app", "env": [{ "name": "A", "valueFrom": { "configMapKeyRef": { "name": "settings", "key": "k" } } }] }),
            "couldn't find key k in ConfigMap prod/settings",
        )
        .await;
        check(
            json!({ "name": "app", "env": [{ "name": "A", "valueFrom": { "secretKeyRef": { "name": "creds", "key": "k" } } }] }),
            "couldn't find key k in Secret prod/creds",
        )
        .await;
        check(
            json!({ "name": "app", "env": [{ "name": "A", "valueFrom": { "fieldRef": { "fieldPath": "spec.hostname" } } }] }),
            "unsupported fieldPath: spec.hostname",
        )
        .await;
    }
}
