//! `docker/runtime`: what a Docker image says about running it, applied
//! as Mesos's isolator of that name applies it.
//!
//! * **The command** (`CommandInfo.shell`, `value`, `arguments` with the
//!   image's Entrypoint and Cmd):
//!   - `shell` true: `/bin/sh -c value`, the image's Entrypoint and Cmd
//!     ignored (no value is an error);
//!   - `shell` false with a `value`: that executable with the task's
//!     arguments, Entrypoint and Cmd ignored;
//!   - `shell` false without a `value`: the image's Entrypoint (all of it)
//!     followed by the task's arguments, or by Cmd when the task gives
//!     none; without an Entrypoint, `Cmd[0]` followed by the task's
//!     arguments, or by the rest of Cmd when the task gives none; an
//!     image with neither is an error.
//! * **Env**: the image's variables, under the task's own (the task's win).
//! * **WorkingDir**: where the command starts (else the sandbox).
//! * **User**: Mesos does not switch to the image's user (it logs that it
//!   is not supported); neither do we. The task runs as its own user.

use meseta_proto::v1;

use super::{Container, Isolator, Launch};
use crate::containerizer::provisioner::image::ImageConfig;

#[derive(Debug)]
pub(super) struct DockerRuntime;

impl Isolator for DockerRuntime {
    fn name(&self) -> &'static str {
        "docker/runtime"
    }

    fn prepare(&self, container: &Container<'_>, launch: &mut Launch) -> Result<(), String> {
        let (Some(image), Some(command)) = (container.image, container.command) else {
            return Ok(());
        };
        launch.command = merge(command, image)?;
        launch.image_environment = environment(image);
        launch.working_directory = image.working_dir.clone();
        if let Some(user) = &image.user {
            tracing::warn!(
                container = %crate::containerizer::container_key(container.id),
                user = %user,
                "the image's User is not applied (as in Mesos); the task runs as its own user"
            );
        }
        Ok(())
    }
}

/// The command to run instead of the task's own, when the image supplies
/// it (see the module docs); `None`: the task's command as it is.
pub(crate) fn merge(
    command: &v1::CommandInfo,
    image: &ImageConfig,
) -> Result<Option<v1::CommandInfo>, String> {
    if command.shell() {
        if command.value.is_none() {
            return Err("the command is a shell command without a value".into());
        }
        return Ok(None);
    }
    if command.value.is_some() {
        return Ok(None);
    }
    let given = &command.arguments;
    let arguments: Vec<String> = if !image.entrypoint.is_empty() {
        let mut all = image.entrypoint.clone();
        if given.is_empty() {
            all.extend(image.cmd.iter().cloned());
        } else {
            all.extend(given.iter().cloned());
        }
        all
    } else if let Some(first) = image.cmd.first() {
        let mut all = vec![first.clone()];
        if given.is_empty() {
            all.extend(image.cmd.iter().skip(1).cloned());
        } else {
            all.extend(given.iter().cloned());
        }
        all
    } else {
        return Err(
            "the task gives no command and the image has neither Entrypoint nor Cmd".into(),
        );
    };
    Ok(Some(v1::CommandInfo {
        shell: Some(false),
        value: arguments.first().cloned(),
        arguments,
        ..command.clone()
    }))
}

/// The image's `NAME=VALUE` variables (malformed entries skipped).
pub(crate) fn environment(image: &ImageConfig) -> Vec<(String, String)> {
    image
        .env
        .iter()
        .filter_map(|entry| {
            let (name, value) = entry.split_once('=')?;
            (!name.is_empty()).then(|| (name.to_string(), value.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(shell: bool, value: Option<&str>, arguments: &[&str]) -> v1::CommandInfo {
        v1::CommandInfo {
            shell: Some(shell),
            value: value.map(str::to_string),
            arguments: arguments.iter().map(|a| a.to_string()).collect(),
            ..Default::default()
        }
    }

    fn image(entrypoint: &[&str], cmd: &[&str]) -> ImageConfig {
        ImageConfig {
            entrypoint: entrypoint.iter().map(|a| a.to_string()).collect(),
            cmd: cmd.iter().map(|a| a.to_string()).collect(),
            ..Default::default()
        }
    }

    fn argv(
        command: &v1::CommandInfo,
        image: &ImageConfig,
    ) -> Result<Option<(String, Vec<String>)>, String> {
        Ok(merge(command, image)?.map(|c| (c.value.unwrap_or_default(), c.arguments)))
    }

    fn some(value: &str, arguments: &[&str]) -> Option<(String, Vec<String>)> {
        Some((
            value.to_string(),
            arguments.iter().map(|a| a.to_string()).collect(),
        ))
    }

    #[test]
    fn the_command_combines_as_in_mesos() {
        let neither = image(&[], &[]);
        let cmd = image(&[], &["/bin/echo", "from", "cmd"]);
        let entry = image(&["/bin/sh", "-c"], &[]);
        let both = image(&["/bin/sh", "-c"], &["echo both"]);
        // shell: the command as given, whatever the image says.
        for i in [&neither, &cmd, &entry, &both] {
            assert_eq!(argv(&command(true, Some("ls"), &["x"]), i).unwrap(), None);
            assert!(argv(&command(true, None, &[]), i).is_err());
            assert_eq!(
                argv(&command(false, Some("/bin/ls"), &["ls", "-l"]), i).unwrap(),
                None
            );
        }
        // No value: the image's Entrypoint and Cmd.
        let bare = command(false, None, &[]);
        assert!(argv(&bare, &neither).is_err());
        assert_eq!(
            argv(&bare, &cmd).unwrap(),
            some("/bin/echo", &["/bin/echo", "from", "cmd"])
        );
        assert_eq!(
            argv(&bare, &entry).unwrap(),
            some("/bin/sh", &["/bin/sh", "-c"])
        );
        assert_eq!(
            argv(&bare, &both).unwrap(),
            some("/bin/sh", &["/bin/sh", "-c", "echo both"])
        );
        // No value, arguments given: they replace Cmd (after Entrypoint, or Cmd[0]).
        let args = command(false, None, &["echo args"]);
        assert!(argv(&args, &neither).is_err());
        assert_eq!(
            argv(&args, &cmd).unwrap(),
            some("/bin/echo", &["/bin/echo", "echo args"])
        );
        assert_eq!(
            argv(&args, &entry).unwrap(),
            some("/bin/sh", &["/bin/sh", "-c", "echo args"])
        );
        assert_eq!(
            argv(&args, &both).unwrap(),
            some("/bin/sh", &["/bin/sh", "-c", "echo args"])
        );
    }

    #[test]
    fn the_image_environment_is_read_as_name_value_pairs() {
        let config = ImageConfig {
            env: vec![
                "PATH=/bin".into(),
                "A=b=c".into(),
                "BROKEN".into(),
                "=x".into(),
            ],
            ..Default::default()
        };
        assert_eq!(
            environment(&config),
            [
                ("PATH".to_string(), "/bin".to_string()),
                ("A".to_string(), "b=c".to_string())
            ]
        );
    }
}
