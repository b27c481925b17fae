//! A flow's tasks as a graph: checked (unique names, known dependencies, no cycle) and
//! put in an order in which every task comes after its dependencies.

use std::collections::{HashMap, VecDeque};

use super::error::{Result, RuntimeError};

/// The dependency graph of a flow's tasks, by index in the flow's declaration order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dag {
    /// For each task, the tasks it depends on.
    pub(crate) dependencies: Vec<Vec<usize>>,
    /// For each task, the tasks that depend on it.
    pub(crate) dependents: Vec<Vec<usize>>,
    /// Every task, each after its dependencies; among tasks free to go, in declaration
    /// order.
    pub(crate) order: Vec<usize>,
}

impl Dag {
    /// Checks the tasks (`(name, dependencies)` in declaration order) of flow `flow`.
    pub(crate) fn new(flow: &str, tasks: &[(&str, &[String])]) -> Result<Dag> {
        let mut index = HashMap::with_capacity(tasks.len());
        for (i, (name, _)) in tasks.iter().enumerate() {
            if index.insert(*name, i).is_some() {
                return Err(RuntimeError::DuplicateTask {
                    flow: flow.to_owned(),
                    task: (*name).to_owned(),
                });
            }
        }
        let mut dependencies = vec![Vec::new(); tasks.len()];
        let mut dependents = vec![Vec::new(); tasks.len()];
        for (i, (name, deps)) in tasks.iter().enumerate() {
            for dep in deps.iter() {
                let Some(&d) = index.get(dep.as_str()) else {
                    return Err(RuntimeError::UnknownDependency {
                        flow: flow.to_owned(),
                        task: (*name).to_owned(),
                        dependency: dep.clone(),
                        known: tasks.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
                    });
                };
                if !dependencies[i].contains(&d) {
                    dependencies[i].push(d);
                    dependents[d].push(i);
                }
            }
        }
        let order =
            topological_order(&dependencies, &dependents).map_err(|stuck| RuntimeError::Cycle {
                flow: flow.to_owned(),
                cycle: find_cycle(&dependencies, &stuck)
                    .into_iter()
                    .map(|i| tasks[i].0.to_owned())
                    .collect(),
            })?;
        Ok(Dag {
            dependencies,
            dependents,
            order,
        })
    }
}

/// Kahn's algorithm; `Err` holds, for each task, whether it could not be ordered.
fn topological_order(
    dependencies: &[Vec<usize>],
    dependents: &[Vec<usize>],
) -> std::result::Result<Vec<usize>, Vec<bool>> {
    let mut waiting: Vec<usize> = dependencies.iter().map(Vec::len).collect();
    let mut ready: VecDeque<usize> = (0..waiting.len()).filter(|&i| waiting[i] == 0).collect();
    let mut order = Vec::with_capacity(waiting.len());
    while let Some(i) = ready.pop_front() {
        order.push(i);
        for &d in &dependents[i] {
            waiting[d] -= 1;
            if waiting[d] == 0 {
                ready.push_back(d);
            }
        }
    }
    if order.len() == waiting.len() {
        Ok(order)
    } else {
        Err(waiting.iter().map(|&w| w > 0).collect())
    }
}

/// A cycle among the tasks that could not be ordered, as a path that follows the
/// dependencies and ends where it began. Each such task waits on another such task,
/// so walking from one always comes back to a task already on the path.
fn find_cycle(dependencies: &[Vec<usize>], stuck: &[bool]) -> Vec<usize> {
    let Some(start) = stuck.iter().position(|&s| s) else {
        return Vec::new();
    };
    let mut path = vec![start];
    let mut position = HashMap::from([(start, 0)]);
    let mut current = start;
    while let Some(&next) = dependencies[current].iter().find(|&&d| stuck[d]) {
        if let Some(&at) = position.get(&next) {
            let mut cycle = path.split_off(at);
            cycle.push(next);
            return cycle;
        }
        position.insert(next, path.len());
        path.push(next);
        current = next;
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dag(tasks: &[(&str, &[&str])]) -> Result<Dag> {
        let owned: Vec<(&str, Vec<String>)> = tasks
            .iter()
            .map(|(name, deps)| (*name, deps.iter().map(|d| (*d).to_owned()).collect()))
            .collect();
        let borrowed: Vec<(&str, &[String])> = owned
            .iter()
            .map(|(name, deps)| (*name, deps.as_slice()))
            .collect();
        Dag::new("f", &borrowed)
    }

    #[test]
    fn orders_each_task_after_its_dependencies() {
        let d = dag(&[
            ("marts", &["facts", "dims"]),
            ("ingest", &[]),
            ("dims", &["ingest"]),
            ("facts", &["dims", "ingest"]),
        ])
        .expect("a DAG");
        assert_eq!(d.order, [1, 2, 3, 0]);
        assert_eq!(d.dependencies[0], [3, 2]);
        assert_eq!(d.dependents[1], [2, 3]);
    }

    #[test]
    fn repeated_dependencies_count_once() {
        let d = dag(&[("a", &[]), ("b", &["a", "a"])]).expect("a DAG");
        assert_eq!(d.dependencies[1], [0]);
        assert_eq!(d.dependents[0], [1]);
    }

    #[test]
    fn names_the_cycle() {
        let err = dag(&[
            ("start", &[]),
            ("a", &["start", "c"]),
            ("b", &["a"]),
            ("c", &["b"]),
            ("after", &["c"]),
        ])
        .expect_err("a cycle");
        let RuntimeError::Cycle { flow, cycle } = &err else {
            panic!("not a cycle error: {err}");
        };
        assert_eq!(flow, "f");
        assert_eq!(cycle, &["a", "c", "b", "a"]);
        assert!(err.to_string().contains("a → c → b → a"), "{err}");
    }

    #[test]
    fn a_task_that_depends_on_itself_is_a_cycle() {
        let err = dag(&[("a", &["a"])]).expect_err("a cycle");
        assert!(matches!(&err, RuntimeError::Cycle { cycle, .. } if cycle == &["a", "a"]));
    }

    #[test]
    fn refuses_unknown_dependencies_and_duplicates() {
        let err = dag(&[("a", &[]), ("b", &["x"])]).expect_err("unknown");
        assert!(
            err.to_string().contains("`b` depends on `x`") && err.to_string().contains("a, b"),
            "{err}"
        );
        let err = dag(&[("a", &[]), ("a", &[])]).expect_err("duplicate");
        assert!(matches!(err, RuntimeError::DuplicateTask { task, .. } if task == "a"));
    }

    #[test]
    fn an_empty_flow_is_valid() {
        assert_eq!(dag(&[]).expect("empty").order, Vec::<usize>::new());
    }
}
