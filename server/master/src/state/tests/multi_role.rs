//! MULTI_ROLE frameworks: offers per role, tasks in the role they use,
//! suppression and role changes per role.

use super::*;
use crate::state::operator::views::role_usage;

fn offer_role(offer: &v1::Offer) -> String {
    offer
        .allocation_info
        .as_ref()
        .and_then(|a| a.role.clone())
        .unwrap_or_default()
}

fn roles_of(offers: &[v1::Offer]) -> Vec<String> {
    let mut roles: Vec<String> = offers.iter().map(offer_role).collect();
    roles.sort();
    roles
}

fn used_cpus(h: &Harness, role: &str) -> i64 {
    role_usage(&h.master)
        .get(role)
        .map_or(0, |u| u.used.scalar_milli("cpus"))
}

#[test]
fn a_framework_in_two_roles_is_offered_in_each_and_its_tasks_count_there() {
    let mut h = Harness::new();
    let one = h.register(1, mock::agent().with_resources("cpus:1;mem:256"));
    let two = h.register(2, mock::agent().with_resources("cpus:1;mem:256"));
    let fw = h.subscribe(10, mock::framework().with_roles(&["a", "b"]).build());
    let offers = h.cycle(10);
    assert_eq!(roles_of(&offers), ["a", "b"]);
    for offer in &offers {
        // Every resource of an offer says the role it is allocated to.
        assert!(offer.resources.iter().all(|r| r
            .allocation_info
            .as_ref()
            .and_then(|a| a.role.as_deref())
            == Some(offer_role(offer).as_str())));
        let agent = if offer.agent_id.value == one {
            &one
        } else {
            &two
        };
        let id = format!("t-{}", offer_role(offer));
        h.launch(&fw, offer, vec![mock::task(&id).on(agent).build()]);
    }
    assert_eq!(used_cpus(&h, "a"), 500);
    assert_eq!(used_cpus(&h, "b"), 500);
    let usage = role_usage(&h.master);
    assert!(usage["a"].frameworks.contains(&fw.0));
    assert!(usage["b"].frameworks.contains(&fw.0));
}

#[test]
fn a_task_says_which_of_the_accepted_roles_it_uses() {
    use crate::state::accept::task_role;
    let offered: BTreeMap<String, Resources> = [("a", "cpus:1"), ("b", "cpus:1")]
        .into_iter()
        .map(|(role, r)| (role.to_string(), Resources::parse(r).unwrap()))
        .collect();
    let mut task = mock::task("t").build();
    let complaint = task_role(&task, &offered).expect_err("ambiguous");
    assert!(complaint.contains("allocation_info"), "{complaint}");
    let name = |task: &mut v1::TaskInfo, role: &str| {
        for r in &mut task.resources {
            r.allocation_info = Some(v1::resource::AllocationInfo {
                role: Some(role.into()),
            });
        }
    };
    name(&mut task, "b");
    assert_eq!(task_role(&task, &offered), Ok("b".into()));
    name(&mut task, "c");
    assert!(task_role(&task, &offered)
        .expect_err("not offered")
        .contains("'c'"));
    let single: BTreeMap<String, Resources> = [("a".to_string(), Resources::default())]
        .into_iter()
        .collect();
    let plain = mock::task("u").build();
    assert_eq!(task_role(&plain, &single), Ok("a".into()));
}

#[test]
fn suppressing_one_role_leaves_the_other_offered() {
    let mut h = Harness::new();
    h.register(1, mock::agent().with_resources("cpus:1;mem:256"));
    h.register(2, mock::agent().with_resources("cpus:1;mem:256"));
    let fw = h.subscribe(10, mock::framework().with_roles(&["a", "b"]).build());
    let suppress = Call {
        r#type: Some(call::Type::Suppress as i32),
        suppress: Some(call::Suppress {
            roles: vec!["a".into()],
        }),
        ..Default::default()
    };
    h.call(&fw, suppress).expect("suppressed");
    assert_eq!(roles_of(&h.cycle(10)), ["b", "b"]);
}

#[test]
fn leaving_a_role_rescinds_its_offers_and_keeps_the_others() {
    let mut h = Harness::new();
    h.register(1, mock::agent().with_resources("cpus:1;mem:256"));
    h.register(2, mock::agent().with_resources("cpus:1;mem:256"));
    let fw = h.subscribe(10, mock::framework().with_roles(&["a", "b"]).build());
    let offers = h.cycle(10);
    let in_a = offers.iter().find(|o| offer_role(o) == "a").expect("a's");
    let mut info = h.master.frameworks()[&fw.0].info.clone();
    info.roles = vec!["b".into()];
    let update = Call {
        r#type: Some(call::Type::UpdateFramework as i32),
        update_framework: Some(call::UpdateFramework {
            framework_info: info,
            ..Default::default()
        }),
        ..Default::default()
    };
    h.call(&fw, update).expect("updated");
    let rescinded: Vec<String> = h
        .events(10)
        .into_iter()
        .filter_map(|e| e.rescind.map(|r| r.offer_id.value))
        .collect();
    assert_eq!(rescinded, vec![in_a.id.value.clone()]);
    let left: Vec<String> = h.master.offers().values().map(|o| o.role.clone()).collect();
    assert_eq!(left, ["b"]);
    assert_eq!(roles_of(&h.cycle(10)), ["b"], "a's agent comes back in b");
}

#[test]
fn roles_go_with_multi_role_and_role_without_it() {
    let mut h = Harness::new();
    let mut roles_without = mock::framework().build();
    roles_without.roles = vec!["a".into()];
    let mut role_with = mock::framework().with_roles(&["a"]).build();
    role_with.roles.clear();
    #[allow(deprecated)]
    {
        role_with.role = Some("a".into());
    }
    for (info, rule) in [
        (roles_without, "'FrameworkInfo.roles' must not be set"),
        (role_with, "'FrameworkInfo.role' must not be set"),
    ] {
        match h
            .master
            .subscribe(Duration::ZERO, mock::subscribe(info), 10)
        {
            Err(CallError::BadRequest(message)) => assert!(message.contains(rule), "{message}"),
            other => panic!("refused with {rule}, not {other:?}"),
        }
    }
    assert!(h.master.frameworks().is_empty(), "nothing subscribed");
    // An old framework (`role`, no MULTI_ROLE) and a new one are welcome.
    let mut old = mock::framework().named("old").build();
    #[allow(deprecated)]
    {
        old.role = Some("a".into());
    }
    h.subscribe(11, old);
    h.subscribe(
        12,
        mock::framework().named("new").with_roles(&["a"]).build(),
    );
    assert_eq!(h.master.frameworks().len(), 2);
}
