//! A real SIP phone as an agent: baresip 1.0 registers with voxdesk's registrar (digest auth),
//! answers the queued call on its own (`answermode=auto`), talks from a WAV file (its aufile
//! source, which also ends the call when the file ends) and dumps what it hears. A SIPp caller
//! joins the queue and speaks; both directions must carry audio through voxdesk's bridge.
//!
//! The registrar offers MD5 only (`challenge = ["MD5"]`): baresip 1.0's libre knows no SHA-256
//! and, offered the default SHA-256-then-MD5 challenges, gives up ("Register: Function not
//! implemented") instead of answering the MD5 one.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{channel_rms, eventually, free_sip_port, Voxdesk, QUEUE_ONLY};

const AGENTS: &str = "realm: voxdesk
agents:
  - user: erin
    password: baresip-secret
    name: Erin on baresip
    queues: [support]
queues:
  - name: support
    strategy: longest-idle
    ring_timeout: 10
    wrap_up: 1
";

/// How long the agent talks: baresip hangs up when its source file ends.
const AGENT_TALK_SECS: u32 = 7;

/// espeak-ng speech at 8 kHz mono 16-bit (what aufile wants), padded with silence to `secs`.
fn agent_voice(path: &Path, text: &str, secs: u32) {
    let wide = path.with_extension("espeak.wav");
    let spoken = Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "150", "-w"])
        .arg(&wide)
        .arg(text)
        .status()
        .expect("run espeak-ng");
    assert!(spoken.success(), "espeak-ng failed");
    let secs = secs.to_string();
    let converted = Command::new("sox")
        .arg(&wide)
        .args(["-r", "8000", "-c", "1", "-b", "16"])
        .arg(path)
        .args(["pad", "0.3", &secs, "trim", "0", &secs])
        .status()
        .expect("run sox");
    assert!(converted.success(), "sox failed");
}

/// baresip running as agent `user` in its own config directory; killed when dropped.
struct Baresip {
    child: Child,
    dumps: PathBuf,
    log: PathBuf,
}

impl Baresip {
    /// Registers `user` with `password` at voxdesk, auto-answers, speaks `source`.
    fn start(vox: &Voxdesk, user: &str, password: &str, source: &Path) -> Baresip {
        let dir = vox.dir().join("baresip-agent");
        let conf = dir.join("conf");
        let dumps = dir.join("dumps");
        std::fs::create_dir_all(&conf).expect("mkdir conf");
        std::fs::create_dir_all(&dumps).expect("mkdir dumps");
        let port = free_sip_port();
        std::fs::write(
            conf.join("config"),
            format!(
                "poll_method epoll\n\
                 sip_listen 127.0.0.1:{port}\n\
                 net_interface 127.0.0.1\n\
                 audio_player aufile,/dev/null\n\
                 audio_source aufile,{}\n\
                 audio_alert aufile,/dev/null\n\
                 module_path /usr/lib/baresip/modules\n\
                 module g711.so\nmodule aufile.so\nmodule sndfile.so\nmodule account.so\n\
                 module menu.so\n\
                 snd_path {}\n",
                source.display(),
                dumps.display()
            ),
        )
        .expect("write baresip config");
        std::fs::write(
            conf.join("accounts"),
            format!(
                "<sip:{user}@{sip}>;auth_user={user};auth_pass={password};answermode=auto;\
                 regint=3600\n",
                sip = vox.sip
            ),
        )
        .expect("write baresip accounts");
        let log = dir.join("baresip.log");
        let out = std::fs::File::create(&log).expect("create baresip log");
        let err = out.try_clone().expect("clone baresip log");
        let child = Command::new("baresip")
            .arg("-f")
            .arg(&conf)
            .args(["-t", "60"])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start baresip (tests/setup.sh installs baresip-core)");
        Baresip { child, dumps, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The WAV of what baresip decoded (heard) during the call.
    fn heard(&self) -> PathBuf {
        std::fs::read_dir(&self.dumps)
            .expect("read baresip dumps")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
            .unwrap_or_else(|| panic!("baresip dumped no decoded audio\n{}", self.log()))
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("----- baresip log -----\n{}", self.log());
        }
    }
}

/// Root mean square of a mono WAV.
fn rms_of_wav(path: &Path) -> f64 {
    let mut reader = hound::WavReader::open(path).expect("open baresip dump");
    let samples: Vec<f64> = reader
        .samples::<i16>()
        .filter_map(Result::ok)
        .map(f64::from)
        .collect();
    if samples.is_empty() {
        return 0.0;
    }
    (samples.iter().map(|s| s * s).sum::<f64>() / samples.len() as f64).sqrt()
}

#[test]
fn baresip_registered_as_an_agent_answers_a_queued_caller() {
    let vox = Voxdesk::start_with_agents(AGENTS, Some(QUEUE_ONLY));
    let source = vox.dir().join("agent.wav");
    agent_voice(
        &source,
        "Hello, this is Erin from support. How can I help you today?",
        AGENT_TALK_SECS,
    );
    let baresip = Baresip::start(&vox, "erin", "baresip-secret", &source);
    let online = eventually(Duration::from_secs(10), "erin registered", || {
        Some(vox.agent("erin")).filter(|a| a["state"] == "available")
    });
    assert_eq!(online["name"], "Erin on baresip", "{online}");
    let listed = vox.get_json("/api/agents");
    let erin_listed = listed["agents"].as_array().is_some_and(|all| {
        all.iter()
            .any(|a| a["user"] == "erin" && a["state"] == "available")
    });
    assert!(erin_listed, "{listed}");

    // The caller speaks two seconds after voxdesk answered, by which time baresip has.
    let caller = vox
        .sipp("queue_caller_speech.xml")
        .clip(
            "request.ul",
            "Hi Erin, my parcel never arrived and I would like a refund please.",
        )
        .set("at1", "2000")
        .run();
    vox.assert_passed(&caller);

    let tickets = vox.ended_tickets(1, Duration::from_secs(20));
    let ticket = vox.ticket(&tickets[0]["id"]);
    assert_eq!(ticket["queue"], "support", "{ticket}");
    assert_eq!(ticket["agent"], "erin", "{ticket}");
    assert_eq!(
        ticket["agents_tried"],
        serde_json::json!(["erin"]),
        "{ticket}"
    );
    let talk_ms = ticket["talk_ms"].as_i64().unwrap_or(0);
    assert!(
        (3_000..15_000).contains(&talk_ms),
        "talk {talk_ms} ms (baresip talks {AGENT_TALK_SECS} s): {ticket}"
    );

    // The agent leg's recording: baresip's voice on the left, the caller's on the right.
    let agent_wav = vox
        .data_dir()
        .join(ticket["agent_recording_path"].as_str().unwrap_or("missing"));
    let agent_side = channel_rms(&agent_wav, 0, 0.3, 4.0);
    assert!(
        agent_side > 300.0,
        "baresip silent on its leg: {agent_side:.0}"
    );
    let caller_side = channel_rms(&agent_wav, 1, 0.0, 6.0);
    assert!(
        caller_side > 300.0,
        "caller silent on the agent leg: {caller_side:.0}"
    );
    // And baresip heard the caller: SIPp sends nothing but its clip.
    let heard = rms_of_wav(&baresip.heard());
    assert!(
        heard > 200.0,
        "baresip heard (near) silence: RMS {heard:.0}"
    );

    let erin = vox.agent("erin");
    assert_eq!(erin["calls_taken"], 1, "{erin}");
}
