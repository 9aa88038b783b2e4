//! Instruction accounting per world for the REC enter/exit measurements (protocol and meaning:
//! `rmm_arch::perf`). Under `-icount shift=0` a CNTPCT_EL0 delta counts instructions; on other
//! runs the counters still work but count time.

use crate::context::{Ctx, World};
use crate::cpu::PerCpu;
use rmm_arch::perf::{PERF_NULL, PERF_READ, PERF_RESET};
use rmm_arch::read_sysreg;

/// This CPU's counters (see `rmm_arch::perf`).
pub struct Counters {
    el3: u64,
    realm: u64,
    null: u64,
    null_calls: u64,
    /// When EL3 last returned to the Realm world, 0 if it has not since the last reset.
    left_for_realm: u64,
}

impl Counters {
    pub const ZERO: Self = Self {
        el3: 0,
        realm: 0,
        null: 0,
        null_calls: 0,
        left_for_realm: 0,
    };

    /// EL3 was entered from `world` at `t_in`.
    pub fn entered(&mut self, world: World, t_in: u64) {
        if world == World::Realm && self.left_for_realm != 0 {
            self.realm = self
                .realm
                .wrapping_add(t_in.wrapping_sub(self.left_for_realm));
            self.left_for_realm = 0;
        }
    }

    /// EL3 returns to `world` after a handler that started at `t_in`.
    pub fn leaving(&mut self, world: Option<World>, t_in: u64) {
        let t_out = now();
        self.el3 = self.el3.wrapping_add(t_out.wrapping_sub(t_in));
        if world == Some(World::Realm) {
            self.left_for_realm = t_out;
        }
    }
}

/// The counter, in instructions under `-icount shift=0`.
pub fn now() -> u64 {
    read_sysreg!("cntpct_el0")
}

/// Whether `fid` (the Normal world's x0) is one of the perf SiP calls.
pub fn is_perf(fid: u64) -> bool {
    matches!(fid, PERF_RESET | PERF_READ | PERF_NULL)
}

/// Runs the perf SiP call in the Normal world's x0, entered at `t_in`. [`PERF_NULL`]'s
/// handler counts towards `null`; none counts towards `el3`.
pub fn handle(cpu: &mut PerCpu, t_in: u64) -> *mut Ctx {
    let fid = cpu.ns.x[0];
    let out: [u64; 5] = match fid {
        PERF_RESET => {
            cpu.perf = Counters::ZERO;
            [0; 5]
        }
        PERF_READ => {
            let c = &cpu.perf;
            [0, c.el3, c.realm, c.null, c.null_calls]
        }
        _ => [0; 5],
    };
    cpu.ns.x[..5].copy_from_slice(&out);
    let next = cpu.enter(World::NonSecure);
    if fid == PERF_NULL {
        let c = &mut cpu.perf;
        c.null = c.null.wrapping_add(now().wrapping_sub(t_in));
        c.null_calls += 1;
    }
    next
}
