//! The container or systemd unit a cgroup path names (the `container` column): a pure function
//! of the path, as docker, containerd (CRI), CRI-O, podman and systemd name cgroups. A
//! container is its short id (12 hex digits, as `docker ps` shows it), a systemd service or
//! scope its unit name; any other path names nothing (NULL).

/// Hex digits of a short container id.
const SHORT_ID: usize = 12;

/// Prefixes of the systemd scopes container runtimes create: `<prefix><64 hex>.scope`.
const SCOPE_PREFIXES: [&str; 4] = ["docker-", "libpod-", "cri-containerd-", "crio-"];

/// Parents under which the cgroupfs drivers name a container's cgroup by its bare id
/// (`/docker/<id>`, `/kubepods/burstable/pod<uid>/<id>`; `kubepods.slice` and friends with
/// the systemd driver).
const ID_PARENTS: [&str; 2] = ["docker", "kubepods"];

/// The container, else the systemd unit, that `path` (from the cgroup2 root) names.
pub fn of_cgroup(path: &str) -> Option<String> {
    let names: Vec<&str> = path.split('/').filter(|n| !n.is_empty()).collect();
    // From the leaf up, so a runtime's sub-cgroup (podman's `libpod-<id>.scope/container`)
    // still names its container.
    for (depth, name) in names.iter().enumerate().rev() {
        let scope_id = name.strip_suffix(".scope").and_then(|stem| {
            SCOPE_PREFIXES
                .iter()
                .find_map(|prefix| stem.strip_prefix(prefix))
        });
        if let Some(id) = scope_id.filter(|id| is_container_id(id)) {
            return Some(id[..SHORT_ID].to_string());
        }
        let under_runtime = names[..depth]
            .iter()
            .any(|parent| ID_PARENTS.iter().any(|p| parent.starts_with(p)));
        if under_runtime && is_container_id(name) {
            return Some(name[..SHORT_ID].to_string());
        }
    }
    let leaf = names.last()?;
    (leaf.ends_with(".service") || leaf.ends_with(".scope")).then(|| leaf.to_string())
}

/// A full container id: 64 lowercase hex digits.
fn is_container_id(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::of_cgroup;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn containers_are_their_short_ids_and_units_their_names() {
        // `Some("")`: the path's own leaf name, a systemd unit.
        let cases = [
            (format!("/system.slice/docker-{ID}.scope"), Some("0123456789ab")),
            (format!("/docker/{ID}"), Some("0123456789ab")),
            (format!("/machine.slice/libpod-{ID}.scope/container"), Some("0123456789ab")),
            (
                format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1_2.slice/cri-containerd-{ID}.scope"),
                Some("0123456789ab"),
            ),
            (format!("/kubepods/burstable/pod1-2/{ID}"), Some("0123456789ab")),
            (format!("/crio-{ID}.scope"), Some("0123456789ab")),
            ("/system.slice/ssh.service".into(), Some("ssh.service")),
            ("/user.slice/user-0.slice/session-3.scope".into(), Some("session-3.scope")),
            (format!("/machine.slice/libpod-conmon-{ID}.scope"), Some("")),
            (format!("/other/{ID}"), None),
            (format!("/docker-{}.scope", &ID[..63]), Some("")),
            ("/".into(), None),
            ("/user.slice".into(), None),
        ];
        for (path, expected) in cases {
            let expected = match expected {
                Some("") => Some(path.rsplit('/').next().unwrap().to_string()),
                other => other.map(str::to_string),
            };
            assert_eq!(of_cgroup(&path), expected, "{path}");
        }
    }
}
