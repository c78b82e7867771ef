//! `posix/rlimits`: the resource limits of `ContainerInfo.rlimit_info`,
//! set in the container's process just before `exec`. A limit given with
//! only one of soft and hard, a soft limit above the hard one, or a type we
//! do not know fails the launch; so does a limit the host refuses (a hard
//! limit above what the agent itself may raise to), with the limit named.

use meseta_proto::v1::{r_limit_info::r_limit::Type, RLimitInfo};

use super::{Container, Isolator, Launch};
use crate::containerizer::program::Rlimit;

/// The kernel's resource for a Mesos rlimit type.
fn resource(kind: Type) -> Option<libc::__rlimit_resource_t> {
    Some(match kind {
        Type::Unknown => return None,
        Type::RlmtAs => libc::RLIMIT_AS,
        Type::RlmtCore => libc::RLIMIT_CORE,
        Type::RlmtCpu => libc::RLIMIT_CPU,
        Type::RlmtData => libc::RLIMIT_DATA,
        Type::RlmtFsize => libc::RLIMIT_FSIZE,
        Type::RlmtLocks => libc::RLIMIT_LOCKS,
        Type::RlmtMemlock => libc::RLIMIT_MEMLOCK,
        Type::RlmtMsgqueue => libc::RLIMIT_MSGQUEUE,
        Type::RlmtNice => libc::RLIMIT_NICE,
        Type::RlmtNofile => libc::RLIMIT_NOFILE,
        Type::RlmtNproc => libc::RLIMIT_NPROC,
        Type::RlmtRss => libc::RLIMIT_RSS,
        Type::RlmtRtprio => libc::RLIMIT_RTPRIO,
        Type::RlmtRttime => libc::RLIMIT_RTTIME,
        Type::RlmtSigpending => libc::RLIMIT_SIGPENDING,
        Type::RlmtStack => libc::RLIMIT_STACK,
    })
}

/// The limits asked for, checked.
pub(crate) fn rlimits(info: &RLimitInfo) -> Result<Vec<Rlimit>, String> {
    info.rlimits
        .iter()
        .map(|limit| {
            let kind = Type::try_from(limit.r#type.unwrap_or(0)).unwrap_or(Type::Unknown);
            let name = kind.as_str_name().to_string();
            let resource =
                resource(kind).ok_or_else(|| format!("unknown rlimit type {:?}", limit.r#type))?;
            let (soft, hard) = match (limit.soft, limit.hard) {
                (Some(soft), Some(hard)) if soft > hard => {
                    return Err(format!(
                        "invalid rlimit {name}: soft limit {soft} is above the hard limit {hard}"
                    ))
                }
                (Some(soft), Some(hard)) => (soft, hard),
                (None, None) => (libc::RLIM_INFINITY, libc::RLIM_INFINITY),
                _ => {
                    return Err(format!(
                        "invalid rlimit {name}: give both soft and hard, or neither (unlimited)"
                    ))
                }
            };
            Ok(Rlimit {
                resource,
                limit: libc::rlimit {
                    rlim_cur: soft,
                    rlim_max: hard,
                },
                name,
            })
        })
        .collect()
}

#[derive(Debug)]
pub(super) struct RlimitsIsolator;

impl Isolator for RlimitsIsolator {
    fn name(&self) -> &'static str {
        "posix/rlimits"
    }

    fn prepare(&self, container: &Container<'_>, launch: &mut Launch) -> Result<(), String> {
        if let Some(info) = container.info.and_then(|i| i.rlimit_info.as_ref()) {
            launch.rlimits.extend(rlimits(info)?);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meseta_proto::v1::r_limit_info::RLimit;

    fn limit(kind: Type, soft: Option<u64>, hard: Option<u64>) -> RLimitInfo {
        RLimitInfo {
            rlimits: vec![RLimit {
                r#type: Some(kind as i32),
                soft,
                hard,
            }],
        }
    }

    #[test]
    fn limits_are_checked() {
        let ok = rlimits(&limit(Type::RlmtNofile, Some(100), Some(200))).unwrap();
        assert_eq!(ok[0].resource, libc::RLIMIT_NOFILE);
        assert_eq!((ok[0].limit.rlim_cur, ok[0].limit.rlim_max), (100, 200));
        let unlimited = rlimits(&limit(Type::RlmtCore, None, None)).unwrap();
        assert_eq!(unlimited[0].limit.rlim_max, libc::RLIM_INFINITY);
        let half = rlimits(&limit(Type::RlmtCore, Some(1), None)).unwrap_err();
        assert!(half.contains("RLMT_CORE"), "{half}");
        assert!(rlimits(&limit(Type::RlmtStack, Some(9), Some(1)))
            .unwrap_err()
            .contains("above"));
        assert!(rlimits(&limit(Type::Unknown, None, None)).is_err());
    }
}
