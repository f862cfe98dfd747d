//! Parsing `--name SECONDS` options by hand (no argument crate in the core's examples).

use std::time::Duration;

/// Reads `--name VALUE` or `--name=VALUE` for each of `names`, each a number of seconds,
/// into the matching slot of `values` (which hold the defaults).
pub fn parse_seconds_options(
    mut args: impl Iterator<Item = String>,
    names: &[&str],
    values: &mut [Duration],
) -> Result<(), String> {
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (arg.clone(), None),
        };
        let Some(at) = names.iter().position(|n| *n == name) else {
            return Err(format!("unknown argument {arg:?}"));
        };
        let value = match inline.or_else(|| args.next()) {
            Some(value) => value,
            None => return Err(format!("{name} needs a value in seconds")),
        };
        let seconds: f64 = value
            .parse()
            .map_err(|_| format!("{name} {value:?}: not a number of seconds"))?;
        values[at] = Duration::try_from_secs_f64(seconds)
            .map_err(|_| format!("{name} {value:?}: must be zero or more seconds"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<[Duration; 2], String> {
        let mut values = [Duration::from_secs(1), Duration::from_secs(2)];
        let args = args.iter().map(|s| s.to_string());
        parse_seconds_options(args, &["--work", "--interval"], &mut values).map(|()| values)
    }

    #[test]
    fn options_parse_and_bad_ones_are_explained() {
        let ms = Duration::from_millis;
        assert_eq!(parse(&[]), Ok([ms(1000), ms(2000)]));
        assert_eq!(
            parse(&["--interval", "0.1", "--work=3"]),
            Ok([ms(3000), ms(100)])
        );
        let bad = [
            (&["--work"][..], "--work needs a value in seconds"),
            (
                &["--work", "x"][..],
                "--work \"x\": not a number of seconds",
            ),
            (
                &["--interval=-2"][..],
                "--interval \"-2\": must be zero or more seconds",
            ),
            (&["now"][..], "unknown argument \"now\""),
        ];
        for (args, message) in bad {
            assert_eq!(parse(args), Err(message.to_owned()));
        }
    }
}
