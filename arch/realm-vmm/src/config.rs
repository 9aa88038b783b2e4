//! What `scripts/run --linux` tells the VMM, in fw_cfg `opt/rmm/vmm`: whitespace-separated
//! `key=value` words (numbers in hexadecimal with `0x`, or decimal):
//!
//! | key | value |
//! |---|---|
//! | `vcpus` | number of vCPUs, one per physical CPU from CPU 0 |
//! | `ram` | the guest's RAM in MiB |
//! | `kernel` | `ADDR+SIZE`: where QEMU loaded the kernel Image, its size |
//! | `initrd` | `ADDR+SIZE`: the initramfs, if any |
//! | `pool` | first byte of the host DRAM the VMM may delegate (up to the end of DRAM) |
//!
//! The kernel command line is fw_cfg `opt/rmm/vmm-bootargs`, as it is.

/// The VMM's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// vCPUs.
    pub vcpus: usize,
    /// Guest RAM in bytes.
    pub ram: u64,
    /// The kernel Image in host memory: address, size.
    pub kernel: (u64, u64),
    /// The initramfs in host memory, if any.
    pub initrd: Option<(u64, u64)>,
    /// The first byte of the delegable pool.
    pub pool: u64,
}

/// Why a configuration was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// A word that is not `key=value`, or an unknown key.
    Unknown,
    /// A value that does not parse.
    Bad(&'static str),
    /// A required key is missing.
    Missing(&'static str),
}

/// A number: `0x` hexadecimal or decimal.
fn number(s: &[u8]) -> Option<u64> {
    let s = core::str::from_utf8(s).ok()?;
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// `ADDR+SIZE`.
fn range(s: &[u8]) -> Option<(u64, u64)> {
    let plus = s.iter().position(|&c| c == b'+')?;
    Some((number(&s[..plus])?, number(&s[plus + 1..])?))
}

/// Parses the fw_cfg text.
pub fn parse(text: &[u8]) -> Result<Config, ConfigError> {
    let (mut vcpus, mut ram, mut kernel, mut initrd, mut pool) = (None, None, None, None, None);
    for word in rmm_arch::fwcfg::words(text) {
        let eq = word
            .iter()
            .position(|&c| c == b'=')
            .ok_or(ConfigError::Unknown)?;
        let (key, value) = (&word[..eq], &word[eq + 1..]);
        match key {
            b"vcpus" => vcpus = Some(number(value).ok_or(ConfigError::Bad("vcpus"))?),
            b"ram" => ram = Some(number(value).ok_or(ConfigError::Bad("ram"))?),
            b"kernel" => kernel = Some(range(value).ok_or(ConfigError::Bad("kernel"))?),
            b"initrd" => initrd = Some(range(value).ok_or(ConfigError::Bad("initrd"))?),
            b"pool" => pool = Some(number(value).ok_or(ConfigError::Bad("pool"))?),
            _ => return Err(ConfigError::Unknown),
        }
    }
    let vcpus = vcpus.ok_or(ConfigError::Missing("vcpus"))?;
    let ram = ram.ok_or(ConfigError::Missing("ram"))?;
    Ok(Config {
        vcpus: usize::try_from(vcpus)
            .ok()
            .filter(|&n| (1..=crate::layout::MAX_VCPUS).contains(&n))
            .ok_or(ConfigError::Bad("vcpus"))?,
        ram: ram
            .checked_mul(1 << 20)
            .filter(|&r| r > 0)
            .ok_or(ConfigError::Bad("ram"))?,
        kernel: kernel.ok_or(ConfigError::Missing("kernel"))?,
        initrd,
        pool: pool.ok_or(ConfigError::Missing("pool"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_key() {
        let c = parse(
            b"vcpus=4 ram=512 kernel=0x70000000+0x2a00000 initrd=0x74000000+4096 pool=0x78000000\0",
        )
        .unwrap();
        assert_eq!(
            c,
            Config {
                vcpus: 4,
                ram: 512 << 20,
                kernel: (0x7000_0000, 0x2a0_0000),
                initrd: Some((0x7400_0000, 4096)),
                pool: 0x7800_0000,
            }
        );
    }

    #[test]
    fn refuses_missing_unknown_and_bad_values() {
        assert_eq!(
            parse(b"ram=1 kernel=1+1 pool=1"),
            Err(ConfigError::Missing("vcpus"))
        );
        assert_eq!(
            parse(b"vcpus=1 ram=1 kernel=1+1 pool=1 x=2"),
            Err(ConfigError::Unknown)
        );
        assert_eq!(
            parse(b"vcpus=0 ram=1 kernel=1+1 pool=1"),
            Err(ConfigError::Bad("vcpus"))
        );
        assert_eq!(
            parse(b"vcpus=1 ram=1 kernel=1 pool=1"),
            Err(ConfigError::Bad("kernel"))
        );
        assert_eq!(
            parse(b"vcpus=1 ram=0 kernel=1+1 pool=1"),
            Err(ConfigError::Bad("ram"))
        );
    }
}
