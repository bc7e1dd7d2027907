//! The unsafe edge: espeak-ng's C API behind one process-wide lock.
//!
//! espeak-ng keeps all of its state (voice, rate, output buffers, the synth callback) in C
//! globals and is not thread-safe, so every call into it goes through the one [`ENGINE`]
//! mutex, which also makes the lazily-run `espeak_Initialize` happen exactly once. It runs in
//! `AUDIO_OUTPUT_SYNCHRONOUS` mode: `espeak_Synth` calls [`collect_samples`] on the calling
//! thread with blocks of native-rate samples and returns when the text is spoken, so nothing
//! outlives the lock. Synthesis takes milliseconds, so a lock (rather than a dedicated thread
//! and channel) is the simplest correct serialisation.

use std::collections::HashSet;
use std::ffi::{c_char, c_int, c_short, c_void, CStr, CString};
use std::ptr;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use espeakng_sys as sys;

use super::tts::{duration_samples, TtsError, MAX_PROMPT};

/// The process-wide espeak-ng instance; `None` inside means initialisation failed.
static ENGINE: OnceLock<Option<Mutex<Engine>>> = OnceLock::new();

/// espeak-ng's global settings as last set by us, to skip reloading an unchanged voice.
pub(super) struct Engine {
    native_rate: u32,
    /// Lower-cased voice names, file identifiers and languages of every installed voice.
    known_voices: HashSet<String>,
    voice: Option<String>,
    rate_wpm: Option<u16>,
}

/// Where the synth callback writes; lives on the stack of [`Engine::speak`] for one call.
struct Collector {
    samples: Vec<i16>,
    limit: usize,
    overflowed: bool,
}

/// The initialised engine, locked; [`TtsError::Init`] if espeak-ng could not start.
pub(super) fn lock() -> Result<MutexGuard<'static, Engine>, TtsError> {
    let engine = ENGINE
        .get_or_init(Engine::init)
        .as_ref()
        .ok_or(TtsError::Init)?;
    // A panic cannot leave espeak half-configured in a way we rely on: `voice` is cleared
    // before each voice change, so a poisoned lock is safe to reuse.
    Ok(engine.lock().unwrap_or_else(PoisonError::into_inner))
}

impl Engine {
    /// The rate espeak-ng synthesises at, as `espeak_Initialize` reported it.
    pub(super) fn native_rate(&self) -> u32 {
        self.native_rate
    }

    fn init() -> Option<Mutex<Engine>> {
        let options = sys::espeakINITIALIZE_DONT_EXIT as c_int;
        // SAFETY: called once (OnceLock); a null path selects the installed espeak-ng-data;
        // DONT_EXIT makes failure a return value instead of `exit()`.
        let rate = unsafe {
            sys::espeak_Initialize(
                sys::espeak_AUDIO_OUTPUT_AUDIO_OUTPUT_SYNCHRONOUS,
                0,
                ptr::null(),
                options,
            )
        };
        let native_rate = u32::try_from(rate).ok().filter(|r| *r > 0)?;
        // SAFETY: `collect_samples` only dereferences the pointers espeak-ng passes it.
        unsafe { sys::espeak_SetSynthCallback(Some(collect_samples)) };
        let known_voices = list_voices();
        tracing::debug!(
            native_rate,
            voices = known_voices.len(),
            "espeak-ng initialised"
        );
        Some(Mutex::new(Engine {
            native_rate,
            known_voices,
            voice: None,
            rate_wpm: None,
        }))
    }

    pub(super) fn select(
        &mut self,
        voice: &str,
        voice_c: &CString,
        rate_wpm: u16,
    ) -> Result<(), TtsError> {
        if self.voice.as_deref() != Some(voice) {
            self.voice = None;
            self.rate_wpm = None;
            // Checked here because espeak-ng's language fallback is lenient: it would
            // happily speak "no-such-voice" as Norwegian.
            let base = voice.split('+').next().unwrap_or_default();
            if !self.known_voices.contains(&base.to_ascii_lowercase()) || !set_voice(voice_c) {
                return Err(TtsError::UnknownVoice(voice.to_owned()));
            }
            self.voice = Some(voice.to_owned());
        }
        if self.rate_wpm != Some(rate_wpm) {
            // SAFETY: plain integer parameter; the engine lock is held.
            let status = unsafe {
                sys::espeak_SetParameter(sys::espeak_PARAMETER_espeakRATE, c_int::from(rate_wpm), 0)
            };
            if status != sys::espeak_ERROR_EE_OK {
                return Err(TtsError::InvalidRate(rate_wpm));
            }
            self.rate_wpm = Some(rate_wpm);
        }
        Ok(())
    }

    pub(super) fn speak(&mut self, text: &CString) -> Result<Vec<i16>, TtsError> {
        let mut collector = Collector {
            samples: Vec::new(),
            limit: duration_samples(MAX_PROMPT, self.native_rate),
            overflowed: false,
        };
        let bytes = text.as_bytes_with_nul();
        // SAFETY: synchronous mode: espeak-ng calls `collect_samples` with `user_data` =
        // `&mut collector` only during this call, on this thread, with the lock held. Flags
        // say UTF-8 and no SSML, so markup in prompt text is spoken, not interpreted.
        let status = unsafe {
            sys::espeak_Synth(
                bytes.as_ptr().cast::<c_void>(),
                bytes.len(),
                0,
                sys::espeak_POSITION_TYPE_POS_CHARACTER,
                0,
                sys::espeakCHARS_UTF8,
                ptr::null_mut(),
                ptr::from_mut(&mut collector).cast::<c_void>(),
            )
        };
        if collector.overflowed {
            return Err(TtsError::PromptTooLong);
        }
        if status != sys::espeak_ERROR_EE_OK {
            return Err(TtsError::Synthesis(status));
        }
        Ok(collector.samples)
    }
}

/// Every name [`set_voice`] may be given for an installed voice (before any `+variant`):
/// its name, its identifier (`gmw/en-US`) and that without the folder, and its languages.
/// Runs once, inside [`Engine::init`], before any other call can reach espeak-ng.
fn list_voices() -> HashSet<String> {
    let mut names = HashSet::new();
    // SAFETY: a null spec lists all voices; the array is null-terminated and stays valid
    // until the next `espeak_ListVoices`, and this is the only caller.
    let mut entry = unsafe { sys::espeak_ListVoices(ptr::null_mut()) };
    while !entry.is_null() {
        // SAFETY: `entry` points into the null-terminated array.
        let voice = unsafe { *entry };
        if voice.is_null() {
            break;
        }
        // SAFETY: non-null entries point to valid voices whose strings are NUL-terminated.
        let voice = unsafe { &*voice };
        for name in [voice.name, voice.identifier] {
            if let Some(name) = c_string(name) {
                if let Some((_, file)) = name.rsplit_once('/') {
                    names.insert(file.to_owned());
                }
                names.insert(name);
            }
        }
        // `languages` is a list of (priority byte, NUL-terminated name), ended by a 0 byte.
        let mut language = voice.languages;
        // SAFETY: walks the documented layout, never past the terminating 0 priority byte.
        while !language.is_null() && unsafe { *language } != 0 {
            let name_ptr = unsafe { language.add(1) };
            let len = unsafe { CStr::from_ptr(name_ptr) }.to_bytes().len();
            names.extend(c_string(name_ptr));
            language = unsafe { name_ptr.add(len + 1) };
        }
        // SAFETY: the entry was not the terminator, so the next one exists.
        entry = unsafe { entry.add(1) };
    }
    names
}

/// Copies a C string, lower-cased; `None` for null.
fn c_string(ptr: *const c_char) -> Option<String> {
    // SAFETY: callers pass null or a NUL-terminated string from espeak-ng.
    (!ptr.is_null()).then(|| {
        unsafe { CStr::from_ptr(ptr) }
            .to_string_lossy()
            .to_ascii_lowercase()
    })
}

/// Selects a voice the way the `espeak-ng -v` command does: by voice name or file first
/// (`en-us`, `gmw/en`), then as a language (`en-gb`), so the names users know all work.
/// Must be called with the engine lock held.
fn set_voice(voice: &CString) -> bool {
    // SAFETY: NUL-terminated string valid for the call; the caller holds the engine lock.
    if unsafe { sys::espeak_SetVoiceByName(voice.as_ptr()) } == sys::espeak_ERROR_EE_OK {
        return true;
    }
    let mut by_language = sys::espeak_VOICE {
        name: ptr::null(),
        languages: voice.as_ptr(),
        identifier: ptr::null(),
        gender: 0,
        age: 0,
        variant: 0,
        xx1: 0,
        score: 0,
        spare: ptr::null_mut(),
    };
    // SAFETY: the selector and its string outlive the call; espeak-ng copies what it keeps.
    unsafe { sys::espeak_SetVoiceByProperties(&mut by_language) == sys::espeak_ERROR_EE_OK }
}

/// espeak-ng's synth callback: appends each block to the [`Collector`] in the events'
/// `user_data`. Returns 1 (abort) once the prompt would exceed its limit.
unsafe extern "C" fn collect_samples(
    wav: *mut c_short,
    num_samples: c_int,
    events: *mut sys::espeak_EVENT,
) -> c_int {
    const CONTINUE: c_int = 0;
    const ABORT: c_int = 1;
    if events.is_null() {
        return ABORT;
    }
    // SAFETY: espeak-ng passes a valid, LIST_TERMINATED event array whose every entry,
    // including the terminator, carries the `user_data` given to `espeak_Synth`.
    let collector = unsafe { (*events).user_data }.cast::<Collector>();
    if collector.is_null() {
        return ABORT;
    }
    // SAFETY: `user_data` is the `&mut Collector` that `Engine::speak` holds across the call.
    let collector = unsafe { &mut *collector };
    let Ok(count) = usize::try_from(num_samples) else {
        return CONTINUE;
    };
    if wav.is_null() || count == 0 {
        return CONTINUE;
    }
    if collector.samples.len().saturating_add(count) > collector.limit {
        collector.overflowed = true;
        return ABORT;
    }
    // SAFETY: espeak-ng guarantees `wav` holds `num_samples` samples for this call.
    let block = unsafe { std::slice::from_raw_parts(wav, count) };
    collector.samples.extend_from_slice(block);
    CONTINUE
}
