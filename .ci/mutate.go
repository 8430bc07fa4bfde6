//go:build ignore

// Command mutate breaks the code on purpose, one mutation at a time, in a
// scratch copy of the repository, runs the tests that should notice, and
// reports which mutations survive. A surviving mutation is a test gap.
//
//	go run .ci/mutate.go             every mutation
//	go run .ci/mutate.go -only kick  the mutations whose name contains "kick"
//	MUTATE_DEBUG=1 ...               print the test output of survivors
//
// It exits 1 when a mutation survives or no longer applies (the code it
// breaks has moved: update the table).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

type edit struct{ from, to string }

type mutation struct {
	name  string
	file  string
	edits []edit
	pkg   string // package to test
	run   string // -run pattern
}

var mutations = []mutation{
	{name: "architecture: the engine imports the transport", file: "mmls/doc.go",
		edits: []edit{{"\npackage mmls\n", "\npackage mmls\n\nimport \"github.com/mmls-chat/mmls-chat/transport\"\n\nvar _ = transport.Version\n"}},
		pkg:   ".", run: "TestImportRules"},
	{name: "powers: a private room follows any member's removal", file: "mmls/rooms.go",
		edits: []edit{{"		return r.admin // a private room with roles: its admins'", "		return nil"}},
		pkg:   "./mmls", run: "TestPrivateRoomPowers"},
	{name: "powers: a non-admin kicks in a private room", file: "mmls/do.go",
		edits: []edit{{"	if !r.admin(e.me) {\n\t\treturn failf(ErrNotAllowed, \"only the admins of %s remove", "	if false {\n\t\treturn failf(ErrNotAllowed, \"only the admins of %s remove"}},
		pkg:   "./mmls", run: "TestPrivateRoomPowers"},
	{name: "powers: roles signed by someone else than the creator taken", file: "mmls/powers.go",
		edits: []edit{{"case roles.CreatorID() != pw.roles.CreatorID():", "case false:"}},
		pkg:   "./mmls", run: "TestPrivateRoomPowers"},
	{name: "powers: no fresh secret at a removal", file: "mmls/do.go",
		edits: []edit{{"	e.apply(r, out, err)\n\t// The members left get a fresh secret: the one removed no longer\n\t// recognises the room.\n\treturn e.rotateSecret(r)", "	e.apply(r, out, err)\n\treturn nil"}},
		pkg:   "./mmls", run: "TestPrivateRoomPowers"},
	{name: "powers: the removed member is sent tags it knows", file: "mmls/rooms.go",
		edits: []edit{{"if old := r.oldTagSecrets(); len(old) > 0 && e.isMember(r, peer) {", "if old := r.oldTagSecrets(); len(old) > 0 {"}},
		pkg:   "./mmls", run: "TestRemovedMemberNoLongerRecognisesRoom"},
	{name: "powers: only the remover lifts a removal it made", file: "mmls/dmls/links.go",
		edits: []edit{{"(by == owner || s.readmitters != nil && s.readmitters(owner))", "by == owner"}},
		pkg:   "./mmls", run: "TestPrivateRoomPowers"},
	{name: "hand-on: a held message taken without its author's signature checked", file: "mmls/handon.go",
		edits: []edit{{"if err := env.Verify(r.id); err != nil {", "if err := env.Verify(r.id); false && err != nil {"}},
		pkg:   "./mmls", run: "TestAttackHostileHolder"},
	{name: "hand-on: held messages taken from someone who shares no room", file: "mmls/handon.go",
		edits: []edit{{"	case !e.shares(r, from):\n\t\te.cfg.Logf(\"mmls: from %s: a held message of %s", "	case false:\n\t\te.cfg.Logf(\"mmls: from %s: a held message of %s"}},
		pkg:   "./mmls", run: "TestAttackHostileHolder"},
	{name: "hand-on: a held message not addressed to us taken", file: "mmls/handon.go",
		edits: []edit{{"case !addressed || seq == 0:", "case (!addressed || seq == 0) && false:"}},
		pkg:   "./mmls", run: "TestAttackHostileHolder"},
	{name: "hand-on: a held message of a non-member or removed author taken", file: "mmls/handon.go",
		edits: []edit{{"case r.s.Kicked(author) || !e.isMember(r, author):", "case false:"}},
		pkg:   "./mmls", run: "TestAttackHostileHolder"},
	{name: "hand-on: a holder's bad messages looked at for ever", file: "mmls/handon.go",
		edits: []edit{{"return p != nil && p.badHeld >= maxBadHeld", "return p != nil && p.badHeld >= maxBadHeld && false"}},
		pkg:   "./mmls", run: "TestAttackHolderFloods"},
	{name: "hand-on: a record handed on taken without its member's signature", file: "mmls/acks.go",
		edits: []edit{{"		if err := rec.Verify(); err != nil {\n\t\t\te.badHeld(from", "		if err := rec.Verify(); false && err != nil {\n\t\t\te.badHeld(from"}},
		pkg:   "./mmls", run: "TestAttackForgedAcknowledgement"},
	{name: "hand-on: an older record replaces a newer one", file: "mmls/acks.go",
		edits: []edit{{"old == nil || old.rec.Version < rec.Version", "old == nil || old.rec.Version < rec.Version || true"}},
		pkg:   "./mmls", run: "TestAttackForgedAcknowledgement"},
	{name: "hand-on: what is held is not bounded", file: "mmls/handon.go",
		edits: []edit{{"e.st.Hold(m, e.cfg.HoldLimits)", "e.st.Hold(m, store.HoldLimits{PerAuthor: 1 << 30, PerAuthorBytes: 1 << 40, PerRoom: 1 << 30, PerRoomBytes: 1 << 40})"}},
		pkg:   "./mmls", run: "TestHoldIsBounded"},
	{name: "hand-on: held messages forgotten before a recipient said anything", file: "mmls/handon.go",
		edits: []edit{{"		pa := r.acks.theirs[to]\n\t\tif pa == nil {\n\t\t\treturn false", "		pa := r.acks.theirs[to]\n\t\tif pa == nil {\n\t\t\treturn true"}},
		pkg:   "./mmls", run: "TestPruneHeld"},
	{name: "hand-on: held messages forgotten before their recipients have them", file: "mmls/handon.go",
		edits: []edit{{"if entry := pa.rec.Entry(author); !entry.Has(env.SeqOf(i)) {", "if entry := pa.rec.Entry(author); false && !entry.Has(env.SeqOf(i)) {"}},
		pkg:   "./mmls", run: "TestPruneHeld"},
	{name: "hand-on: held messages kept for ever", file: "mmls/handon.go",
		edits: []edit{{"if now.Sub(h.HeldAt) >= HoldFor || e.everyoneHolds(r, h) {", "if (now.Sub(h.HeldAt) >= HoldFor || e.everyoneHolds(r, h)) && false {"}},
		pkg:   "./mmls", run: "TestPruneHeld"},
	{name: "hand-on: a line typed while the room forms goes to nobody", file: "mmls/sharing.go",
		edits: []edit{{"if p.online && p.rooms[r.id] && r.s.Expects(p.id) {", "if false {"}},
		pkg:   "./mmls", run: "TestLineTypedWhileRoomForms"},
	{name: "acks: gaps for good stop what comes after from being acknowledged", file: "mmls/dmls/acks.go",
		edits: []edit{{"for len(a.Gaps) > MaxGaps {", "for len(a.Gaps) > MaxGaps {\n\t\ta.Upto = a.Gaps[MaxGaps].Lo - 1\n\t\ta.Gaps = a.Gaps[:MaxGaps]\n\t\tbreak"}},
		pkg:   "./mmls/dmls", run: "TestAckEntryGapsForGood"},
	{name: "acks: a record claims more than is held", file: "mmls/dmls/acks.go",
		edits: []edit{{"a.Gaps[best].Hi = a.Gaps[best+1].Hi\n\t\ta.Gaps = append(a.Gaps[:best+1], a.Gaps[best+2:]...)", "a.Gaps = append(a.Gaps[:best], a.Gaps[best+1:]...)"}},
		pkg:   "./mmls/dmls", run: "TestAckEntryNeverClaimsMore"},
	{name: "dmls: an owner passes another author's envelope for its own", file: "mmls/dmls/handle.go",
		edits: []edit{{"if e.Author() != rg.owner {", "if false {"}},
		pkg:   "./mmls/dmls", run: "TestAttackOwnerPassesOnAnothersEnvelope"},
	{name: "files: chunks served to peers the offer did not reach", file: "mmls/files/manager.go",
		edits: []edit{{"case !h.allowed[from]:", "case !h.allowed[from] && false:"}},
		pkg:   "./mmls", run: "TestStrangerCannotFetch"},
	{name: "files: a member removed from the room still served", file: "mmls/sharing.go",
		edits: []edit{{"if r == nil || !r.s.Kicked(from) {", "if r == nil || !r.s.Kicked(from) || true {"}},
		pkg:   "./mmls", run: "TestKickedMemberCannotFetch"},
	{name: "files: a file named by its offer's id alone (squattable)", file: "mmls/sharing.go",
		edits: []edit{{"key := files.Key(ev.Peer, o.ID)", "key := files.Key(ID{}, o.ID)"}},
		pkg:   "./mmls", run: "TestFileIDSquat"},
	{name: "files: auto-save trusts strangers in open rooms", file: "mmls/sharing.go",
		edits: []edit{{"	if r.direct && !r.request || r.private() {\n		return true", "	if true {\n		return true"}},
		pkg:   "./mmls", run: "TestAutoSave"},
	{name: "files: chunks taken without the manifest's check", file: "mmls/files/fetch.go",
		edits: []edit{{"case !f.man.Matches(i, d.Bytes):", "case false:"}},
		pkg:   "./mmls", run: "TestHostileHolderCannotCorrupt"},
	{name: "files: a manifest taken without its hash checked", file: "mmls/files/fetch.go",
		edits: []edit{{"if ManifestHash(man) != f.o.Manifest {", "if false {"}},
		pkg:   "./mmls/files", run: "TestFetchRefusesForgedManifest"},
	{name: "files: a saved file overwrites one of the same name", file: "mmls/files/names.go",
		edits: []edit{{"err := os.Link(src, path)\n\t\tif errors.Is(err, os.ErrExist) {", "os.Remove(path)\n\t\terr := os.Link(src, path)\n\t\tif errors.Is(err, os.ErrExist) {"}},
		pkg:   "./mmls/files", run: "TestPlaceNeverOverwrites"},
	{name: "files: a peer's file name used as a path", file: "mmls/files/offer.go",
		edits: []edit{{"o.Name, o.Mime = SafeName(string(name)), CleanMime(string(mime))", "o.Name, o.Mime = string(name), CleanMime(string(mime))"}},
		pkg:   "./mmls/files", run: "TestHostileNames"},
	{name: "files: the whole file's hash not checked", file: "mmls/files/manager.go",
		edits: []edit{{"\tif !bytes.Equal(sum.Sum(nil), h.o.SHA256[:]) {", "\tif false {"}},
		pkg:   "./mmls/files", run: "TestFetchRefusesWrongHash"},
	{name: "files: progress said before it is durable", file: "mmls/files/fetch.go",
		edits: []edit{{"	m.persist(f)\n	f.lastReport = time.Now()", "	f.lastReport = time.Now()"}},
		pkg:   ".", run: "TestE2EFileResumesAfterKill"},
	{name: "join: accept a Welcome signed by an insider", file: "mmls/mlsguard/join.go",
		edits: []edit{{"if gi.signer != 0 {", "if gi.signer != 0 && false {"}},
		pkg:   "./mmls/mlsguard", run: "TestAttack"},
	{name: "unprotect: a message's signature not verified (an insider writes as the owner)", file: "mmls/mlsguard/unprotect.go",
		edits: []edit{{"if !g.verifyApplication(ct, content[:n1], sig) {", "if false && !g.verifyApplication(ct, content[:n1], sig) {"}},
		pkg:   "./mmls/mlsguard", run: "TestAttackInsider"},
	{name: "commit: the owner's signature not verified", file: "mmls/mlsguard/member.go",
		edits: []edit{{"if !g.verifyWith(ctx, commit) {", "if false && !g.verifyWith(ctx, commit) {"}},
		pkg:   "./mmls/mlsguard", run: "TestAttack"},
	{name: "commit: a committed proposal's signature not verified", file: "mmls/mlsguard/member.go",
		edits: []edit{{"if !verifyEncoded(g.st, ctx, p.pt, p.enc) {", "if false && !verifyEncoded(g.st, ctx, p.pt, p.enc) {"}},
		pkg:   "./mmls/mlsguard", run: "TestAttack"},
	{name: "commit: the confirmation tag not checked", file: "mmls/mlsguard/apply.go",
		edits: []edit{{"if !hmac.Equal(mac.Sum(nil), commit.Content.Commit.Confirmation.Data) {", "if false && !hmac.Equal(mac.Sum(nil), commit.Content.Commit.Confirmation.Data) {"}},
		pkg:   "./mmls/mlsguard", run: "TestAttackMisbehavingOwnerCommits"},
	{name: "commit: stale hashes of removed leaves kept", file: "mmls/mlsguard/apply.go",
		edits: []edit{{"touched = append(touched, leaf)", "_ = leaf"}},
		pkg:   "./mmls/mlsguard", run: "TestApplyCommitMatchesGoMLS"},
	{name: "commit: an updated leaf's hash cut from the wrong bytes", file: "mmls/mlsguard/apply.go",
		edits: []edit{{"len(pt.AuthenticatedData) + 1 + 1", "len(pt.AuthenticatedData) + 1"}},
		pkg:   "./mmls/mlsguard", run: "TestApplyCommitMatchesGoMLS"},
	{name: "commit: an updated leaf's hash kept after its removal", file: "mmls/mlsguard/apply.go",
		edits: []edit{{"delete(fresh, leaf) // a removal or an add after an update", "// no delete"}},
		pkg:   "./mmls/mlsguard", run: "TestApplyCommitMatchesGoMLS"},
	{name: "commit: our own update's leaf secret not taken", file: "mmls/mlsguard/apply.go",
		edits: []edit{{"st.TreePriv.SetLeafSecret(secrets.Secret)", "_ = secrets"}},
		pkg:   "./mmls/mlsguard", run: "TestApplyCommitMatchesGoMLS"},
	{name: "batch: events shown before the commit", file: "mmls/engine.go",
		edits: []edit{{"	if e.commit.held != nil {\n		// In a batch", "	if e.commit.held != nil && false {\n		// In a batch"}},
		pkg:   "./mmls", run: "TestFailedBatch"},
	{name: "batch: an acknowledgement though the commit failed", file: "mmls/acks.go",
		edits: []edit{{"e.sendLater(author, frame, true, storedNote", "e.sendLater(author, frame, false, storedNote"}},
		pkg:   "./mmls", run: "TestFailedBatch"},
	{name: "engine: an acknowledgement on the channel speaks of anyone's messages", file: "mmls/acks.go",
		edits: []edit{{"	case entry.Author != e.me:\n", "	case false:\n"}},
		pkg:   "./mmls", run: "TestAttackChannelAcknowledgement"},
	{name: "engine: every record handed on at a meeting", file: "mmls/handon.go",
		edits: []edit{{"if other == member || pa.rec.Entry(member).Upto == 0 {", "if other == member {"}},
		pkg:   "./mmls", run: "TestMeetingHandsOnOnlyRecordsThatSpeakOfTheMember"},
	{name: "batch: what a failed batch stored is still said to be held", file: "mmls/acks.go",
		edits: []edit{{"if failed && len(a.undo) > 0 {", "if false && len(a.undo) > 0 {"}},
		pkg:   "./mmls", run: "TestFailedBatch"},
	{name: "notifications: a peer's text not cleaned", file: "ui/view.go",
		edits: []edit{{"body := truncate(strings.ReplaceAll(clean(text), \";\", \",\"), 120)", "body := text"}},
		pkg:   "./ui", run: "TestNotifications"},
	{name: "transport: an unreachable address said on every dial", file: "transport/dial.go",
		edits: []edit{{"tell := tg.static && !tg.told", "tell := tg.static"}},
		pkg:   "./transport", run: "TestUnreachableSaidOnce"},
	{name: "known peers: strangers remembered", file: "mmls/peers.go",
		edits: []edit{{"if p.stored != \"\" || e.known(p.id) {", "if true {"}},
		pkg:   "./mmls", run: "TestStrangersAreNotRemembered"},
	{name: "restart: known peers not recalled", file: "mmls/node/node.go",
		edits: []edit{{"if id, ok := mmls.ParseID(k.ID); ok && k.Addr != \"\" {", "if id, ok := mmls.ParseID(k.ID); ok && k.Addr != \"\" && false {"}},
		pkg:   ".", run: "TestE2ERestartKeeps"},
	{name: "restart: a removed recipient still counts in delivery marks", file: "mmls/rooms.go",
		edits: []edit{{"lines[i].Recipients = d.To - d.Dropped", "lines[i].Recipients = d.To"}},
		pkg:   ".", run: "TestE2ERestartKeeps"},
	{name: "join: the GroupInfo's signature not verified", file: "mmls/mlsguard/joinstate.go",
		edits: []edit{{"if !ok || !Suite.Scheme().Verify(signerKP.Credential.PublicKey(), gi.tbs, gi.signature) {", "if !ok || false && !Suite.Scheme().Verify(signerKP.Credential.PublicKey(), gi.tbs, gi.signature) {"}},
		pkg:   "./mmls/mlsguard", run: "TestAttackForgedGroupInfo"},
	{name: "join: the confirmation tag not checked", file: "mmls/mlsguard/joinstate.go",
		edits: []edit{{"if !hmac.Equal(mac.Sum(nil), gi.confirm) {", "if false && !hmac.Equal(mac.Sum(nil), gi.confirm) {"}},
		pkg:   "./mmls/mlsguard", run: "TestAttackForgedGroupInfo"},
	{name: "join: a leaf hash not as go-mls computes it", file: "mmls/mlsguard/joinstate.go",
		edits: []edit{{"in = append(append(in, 1), raw[2:]...)", "in = append(append(in, 1), raw[1:]...)"}},
		pkg:   "./mmls/mlsguard", run: "TestJoinMatchesGoMLS"},
	{name: "join: no tree-size check before go-mls runs", file: "mmls/mlsguard/join.go",
		edits: []edit{{"if gi.nodes > 2*MaxLeaves-1 {", "if gi.nodes > 2*MaxLeaves-1 && false {"}},
		pkg:   "./mmls/mlsguard", run: "TestAttackWelcome"},
	{name: "commit: proposals not checked against the commit", file: "mmls/mlsguard/member.go",
		edits: []edit{{"if err := checkCovered(&commit.Content.Commit.Commit, props); err != nil {", "if err := error(nil); err != nil {"}},
		pkg:   "./mmls/mlsguard", run: "TestAttack"},
	{name: "private room: admit anyone who has the secret", file: "mmls/dmls/private.go",
		edits: []edit{{"if !s.priv.on || s.priv.vouches[peer] || s.InSendGroup(peer) {", "if true || !s.priv.on || s.priv.vouches[peer] || s.InSendGroup(peer) {"}},
		pkg:   "./mmls/dmls", run: "TestPrivateRoom"},
	{name: "session: accept another identity's KeyPackage", file: "mmls/dmls/handle.go",
		edits: []edit{{"if kp.Fingerprint() != from {", "if false && kp.Fingerprint() != from {"}},
		pkg:   "./mmls/dmls", run: "TestStrangers"},
	{name: "store: no fsync (NoSync)", file: "mmls/store/lock.go",
		edits: []edit{{"&bolt.Options{Timeout: time.Second, ReadOnly: readOnly}", "&bolt.Options{Timeout: time.Second, ReadOnly: readOnly, NoSync: true}"}},
		pkg:   ".", run: "TestE2EDurable"},
	{name: "engine: no timed re-send", file: "mmls/outbox.go",
		edits: []edit{{"\t\te.resendDue()\n", "\t\t_ = e.resendDue\n"}},
		pkg:   "./mmls", run: "TestResend"},
	{name: "engine: no re-send on rejoin", file: "mmls/receive.go",
		edits: []edit{{"\t\te.resendTo(r, ev.Peer)\n", "\t\t_ = e.resendTo\n"}},
		pkg:   "./mmls", run: "TestRestartCatchesUp"},
	{name: "engine: no re-send on rejoin (end to end)", file: "mmls/receive.go",
		edits: []edit{{"\t\te.resendTo(r, ev.Peer)\n", "\t\t_ = e.resendTo\n"}},
		pkg:   ".", run: "TestE2EKilledNodeCatchesUp|TestE2EWriteRightAfterRestart"},
	{name: "engine: kicks not restored at start", file: "mmls/rooms.go",
		edits: []edit{{"\t\t\ts.MarkKicked(fp, by)\n", "\t\t\t_, _ = fp, by\n"}},
		pkg:   "./mmls", run: "TestKick"},
	{name: "transport: no frame version check", file: "transport/frame.go",
		edits: []edit{{"if h[0] != Version {", "if false && h[0] != Version {"}},
		pkg:   "./transport", run: "TestHostile"},
	{name: "transport: writer holds the lock while writing", file: "transport/conn.go",
		edits: []edit{
			{"\t\tc.peersOut = nil\n\t\tt.mu.Unlock()\n", "\t\tc.peersOut = nil\n"},
			{"\t\tif len(buf) == 0 {\n\t\t\tcontinue\n", "\t\tif len(buf) == 0 {\n\t\t\tt.mu.Unlock()\n\t\t\tcontinue\n"},
			{"\t\tif err := c.nc.SetWriteDeadline(time.Now().Add(t.cfg.DeadAfter)); err != nil {\n\t\t\treturn\n",
				"\t\tif err := c.nc.SetWriteDeadline(time.Now().Add(t.cfg.DeadAfter)); err != nil {\n\t\t\tt.mu.Unlock()\n\t\t\treturn\n"},
			{"\t\tif _, err := c.nc.Write(buf); err != nil {\n", "\t\t_, err := c.nc.Write(buf)\n\t\tt.mu.Unlock()\n\t\tif err != nil {\n"},
		},
		pkg: "./transport", run: "TestSlowPeer"},
	{name: "engine: re-sends go through the room's group whoever joined since", file: "mmls/outbox.go",
		edits: []edit{{"if r.direct || subset(r.s.Recipients(), env.To) {", "if true || r.direct || subset(r.s.Recipients(), env.To) {"}},
		pkg:   "./mmls", run: "TestResendReaches"},
	{name: "engine: open rooms follow anyone's removals", file: "mmls/rooms.go",
		edits: []edit{{"\tif r.private() || r.direct {\n\t\treturn nil\n\t}", "\treturn nil"}},
		pkg:   "./mmls", run: "TestStrangerCannotEvictEveryone"},
	{name: "engine: a failed store drops the commit", file: "mmls/outbox.go",
		edits: []edit{{"\t\te.apply(r, withoutApp(out), nil)\n\t\treturn dmls.Output{}, failWith(ErrStorage", "\t\t_ = withoutApp\n\t\treturn dmls.Output{}, failWith(ErrStorage"}},
		pkg:   "./mmls", run: "TestFailedStore"},
	{name: "engine: Run returns nil when its context ends", file: "mmls/engine.go",
		edits: []edit{{"\t\t\treturn ctx.Err()\n", "\t\t\treturn nil\n"}},
		pkg:   "./mmls", run: "TestRunReturns"},
	{name: "ui: peer strings reach the terminal raw", file: "ui/sanitize.go",
		edits: []edit{{"func sanitize(s string, text bool) string {\n", "func sanitize(s string, text bool) string {\n\tif true {\n\t\treturn s\n\t}\n"}},
		pkg:   "./ui", run: "TestHostileStrings"},
	{name: "ui: lines go to the engine's idea of a room", file: "ui/commands.go",
		edits: []edit{{"\tcmd, err := mmls.Parse(text, m.current)\n", "\tcmd, err := mmls.Parse(text, m.last)\n"}},
		pkg:   "./ui", run: "TestTypedLine"},
	{name: "store: a message id counts across senders", file: "mmls/store/messages.go",
		edits: []edit{{`[]byte(m.Room + "\x00" + m.FromID + "\x00" + m.ID)`, `[]byte(m.Room + "\x00" + m.ID)`}},
		pkg:   "./mmls", run: "TestReusedMessageID"},
	{name: "mlsguard: queued Adds not counted against the room's cap", file: "mmls/mlsguard/owner.go",
		edits: []edit{{"adds := g.adds + 1", "adds := 1"}},
		pkg:   "./mmls/mlsguard", run: "TestRoomFull"},
	{name: "mlsguard: any number of updates per member and epoch", file: "mmls/mlsguard/owner.go",
		edits: []edit{{"\tif g.updating[sender] {\n", "\tif false && g.updating[sender] {\n"}},
		pkg:   "./mmls/mlsguard", run: "TestAttackUpdateFlood"},
	{name: "mlsguard: update secrets kept after the commit", file: "mmls/mlsguard/member.go",
		edits: []edit{{"\teraseUpdateSecrets(g.st, next)\n", ""}},
		pkg:   "./mmls/mlsguard", run: "TestUpdateSecretsErased"},
	{name: "dmls: receive-group Updates wait on our own rekeys", file: "mmls/dmls/commit.go",
		edits: []edit{{"s.env.Now().Sub(rg.rotated) < s.cfg.UpdateInterval", "s.env.Now().Sub(s.lastUpdate) < s.cfg.UpdateInterval"}},
		pkg:   "./mmls/dmls", run: "TestLeavesRotate"},
	{name: "dmls: every request for our KeyPackage answered", file: "mmls/dmls/handle.go",
		edits: []edit{{"\treturn len(recent) < answerBurst\n", "\treturn true\n"}},
		pkg:   "./mmls/dmls", run: "TestKeyPackageRequestFlood"},
	{name: "dmls: no per-peer cap on KeyPackages held", file: "mmls/dmls/identity.go",
		edits: []edit{{"\tif len(live)+1 > MaxKeyPackagesPerPeer {\n", "\tif false {\n"}},
		pkg:   "./mmls/dmls", run: "TestKeyStoreIsFair"},
	{name: "dmls: no byte budget on the future-epoch buffer", file: "mmls/dmls/timers.go",
		edits: []edit{{"\tif rg.bufBytes+size > s.cfg.MaxBufferedBytes {\n", "\tif false {\n"}},
		pkg:   "./mmls/dmls", run: "TestFutureEpochBuffer"},
	{name: "transport: past the handshake limit, refuse instead of evicting", file: "transport/conn.go",
		edits: []edit{{"\t\toldest.evicted = true\n\t\toldest.close()\n", "\t\treturn \"handshakes\"\n"}},
		pkg:   "./transport", run: "TestFriendConnectsDuringSilentFlood"},
	{name: "transport: no per-address handshake limit", file: "transport/conn.go",
		edits: []edit{{"\tcase shakingIP >= t.cfg.MaxHandshakesPerIP:\n", "\tcase false:\n"}},
		pkg:   "./transport", run: "TestHandshakesPerAddress"},
	{name: "transport: no per-address connection limit", file: "transport/conn.go",
		edits: []edit{{"\tcase authedIP >= t.cfg.MaxConnsPerIP:\n", "\tcase false:\n"}},
		pkg:   "./transport", run: "TestConnectionsPerAddress"},
	{name: "transport: dial targets unbounded", file: "transport/dial.go",
		edits: []edit{{"\tif len(t.targets) < maxTargets {\n", "\tif true {\n"}},
		pkg:   "./transport", run: "TestDialTargetsAreBounded"},
	{name: "transport: a full target list refuses instead of forgetting a failing address", file: "transport/dial.go",
		edits: []edit{{"\tif worst == nil {\n", "\tif true {\n"}},
		pkg:   "./transport", run: "TestDialTargetsAreBounded"},
	{name: "mlsguard: no proposal's signature checked (a member's either)", file: "mmls/mlsguard/member.go",
		edits: []edit{{"if p.pt.Sender.Sender == commit.Sender.Sender {", "if true {"}},
		pkg:   "./mmls/mlsguard", run: "TestAttackMisbehavingOwnerCommits"},
	{name: "store: an empty batch still commits (two fsyncs for nothing)", file: "mmls/store/store.go",
		edits: []edit{{"\tif !s.wrote {\n\t\treturn tx.tx.Rollback()\n\t}\n", "\tif false {\n\t\treturn tx.tx.Rollback()\n\t}\n"}},
		pkg:   "./mmls/store", run: "TestEmptyBatchLeavesTheDiskAlone"},
	{name: "store: a batch whose only write failed passes for an empty one", file: "mmls/store/store.go",
		edits: []edit{{"\tif s.failed != nil {\n\t\t_ = tx.tx.Rollback()\n\t\treturn s.failed\n\t}\n\tif !s.wrote {\n\t\treturn tx.tx.Rollback()\n\t}\n", "\tif !s.wrote {\n\t\treturn tx.tx.Rollback()\n\t}\n\tif s.failed != nil {\n\t\t_ = tx.tx.Rollback()\n\t\treturn s.failed\n\t}\n"}},
		pkg:   "./mmls/store", run: "TestPanicInBatchRollsBack"},
	{name: "store: a batch's write not marked (lost at commit)", file: "mmls/store/store.go",
		edits: []edit{{"\t\ts.wrote = true\n\t\treturn nil\n", "\t\treturn nil\n"}},
		pkg:   "./mmls/store", run: "TestBatch|TestEmptyBatchLeavesTheDiskAlone"},
	{name: "store: a write that panics in a batch does not fail it", file: "mmls/store/store.go",
		edits: []edit{{"\t\t\t\ts.failed = err // it may have written half", "\t\t\t\t_ = err // it may have written half"}},
		pkg:   "./mmls/store", run: "TestPanicInBatchRollsBack"},
	{name: "transport: both sides of a pair dial (no yield)", file: "transport/dial.go",
		edits: []edit{{"\tif mutual && bytes.Compare(id[:], t.me[:]) < 0 {\n", "\tif false && mutual && bytes.Compare(id[:], t.me[:]) < 0 {\n"}},
		pkg:   "./transport", run: "TestSightedDialYield|TestExchange"},
	{name: "transport: peer exchange dials at once (no yield)", file: "transport/conn.go",
		edits: []edit{{"t.addTarget(e.addr, e.id, true)", "t.addTarget(e.addr, e.id, false)"}},
		pkg:   "./transport", run: "TestExchangeYieldThenDial"},
	{name: "transport: the smaller id yields", file: "transport/dial.go",
		edits: []edit{{"bytes.Compare(id[:], t.me[:]) < 0 {", "bytes.Compare(id[:], t.me[:]) > 0 {"}},
		pkg:   "./transport", run: "TestSightedDialYield|TestExchange"},
	{name: "transport: a restart's memory waits out the yield", file: "transport/transport.go",
		edits: []edit{{"t.addTarget(addr, id, false)\n\t\treturn nil", "t.addTarget(addr, id, true)\n\t\treturn nil"}},
		pkg:   "./transport", run: "TestRecallDoesNotYield"},
	{name: "engine: strangers open any number of direct rooms", file: "mmls/peers.go",
		edits: []edit{{"case n >= MaxStrangerRooms:", "case false && n >= MaxStrangerRooms:"}},
		pkg:   "./mmls", run: "TestStrangersOpenFewDirectRooms"},
	{name: "dmls: an equivocation alert without checking the evidence", file: "mmls/dmls/evidence.go",
		edits: []edit{{"\tif err := mlsguard.VerifyCommit(w, commit); err != nil {\n", "\tif err := error(nil); err != nil {\n"}},
		pkg:   "./mmls/dmls", run: "TestForgedDigestRaisesNothing"},
	{name: "dmls: a digest asks for evidence without limit", file: "mmls/dmls/evidence.go",
		edits: []edit{{"|| budget != nil && *budget <= 0 {", "{"}},
		pkg:   "./mmls/dmls", run: "TestForgedDigestAsksLittle"},
	{name: "engine: look-alike nicks shown bare", file: "mmls/peers.go",
		edits: []edit{{"p.nick != \"\" && len(e.lookAlikes(fp)) > 0\n", "p.nick != \"\" && false\n"}},
		pkg:   "./mmls", run: "TestLookAlikeNicksAreToldApart"},
	{name: "store: alerts with evidence dropped before the rest", file: "mmls/store/alerts.go",
		edits: []edit{{"victims := append(plain, evidence...)", "victims := append(evidence, plain...)"}},
		pkg:   "./mmls/store", run: "TestAlertsWithEvidence"},
	{name: "dmls: the previous epoch decrypts past its grace", file: "mmls/dmls/handle.go",
		edits: []edit{{"case m.Epoch+1 == cur && rg.prev != nil && s.env.Now().Before(rg.prevUntil):", "case m.Epoch+1 == cur && rg.prev != nil:"}},
		pkg:   "./mmls/dmls", run: "TestPreviousEpochGrace"},
	{name: "transport: an accepted connection's goroutine not counted for Close", file: "transport/conn.go",
		edits: []edit{{"\tif !dialer {\n\t\tt.wg.Add(1)\n", "\tif false {\n\t\tt.wg.Add(1)\n"}},
		pkg:   "./transport", run: "TestCloseWaitsForAcceptedConnections"},
	{name: "engine: what a returning recipient missed re-sent in the order of random ids", file: "mmls/outbox.go",
		edits: []edit{{"\te.sendOrder(out, peer)\n\tfor _, o := range out {\n\t\tif o.Room != r.name {\n", "\tfor _, o := range out {\n\t\tif o.Room != r.name {\n"}},
		pkg:   "./mmls", run: "TestResendKeepsTheOrder"},
	{name: "engine: every change of a peer's nick shown, without a pause", file: "mmls/nick.go",
		edits: []edit{{"\tif p.nick != \"\" && e.now().Sub(p.renamedAt) < RenameEvery {\n", "\tif false {\n"}},
		pkg:   "./mmls", run: "TestNickIsLive"},
	{name: "engine: a nick frame's nick taken unchecked", file: "mmls/nick.go",
		edits: []edit{{"\tif err := dmls.ValidNick(nick); err != nil {\n", "\tif err := dmls.ValidNick(nick); err != nil && false {\n"}},
		pkg:   "./mmls", run: "TestPeerNickIsValidated"},
	{name: "engine: a rename shown with the bare nick of a look-alike", file: "mmls/nick.go",
		edits: []edit{{"e.emit(&PeerRenamed{ID: p.id, Old: old, Nick: e.nickOf(p.id, \"\"), Rooms: e.sharedWith(p)})", "e.emit(&PeerRenamed{ID: p.id, Old: old, Nick: p.nick, Rooms: e.sharedWith(p)})"}},
		pkg:   "./mmls", run: "TestAttackRenameToAFriend"},
	{name: "engine: a start never says older lines are stored", file: "mmls/rooms.go",
		edits: []edit{{"\tif !page.More {\n\t\treturn 0\n", "\tif true {\n\t\treturn 0\n"}},
		pkg:   "./mmls", run: "TestOlderLinesOnRequest"},
	{name: "store: a page of history repeats the message it starts before", file: "mmls/store/messages.go",
		edits: []edit{{"\t\t} else {\n\t\t\tk, _ = c.Prev()\n\t\t}", "\t\t}"}},
		pkg:   "./mmls/store", run: "TestHistoryPages"},
	{name: "engine: every away change of a peer shown, without a pause", file: "mmls/nick.go",
		edits: []edit{{"if p.away == p.awayShown || e.now().Sub(p.awayAt) < RenameEvery {", "if p.away == p.awayShown {"}},
		pkg:   "./mmls", run: "TestAway$"},
	{name: "engine: an away frame taken unchecked", file: "mmls/nick.go",
		edits: []edit{{"\tif err := validAway(text); err != nil {\n\t\te.cfg.Logf", "\tif err := validAway(text); err != nil && false {\n\t\te.cfg.Logf"}},
		pkg:   "./mmls", run: "TestAwayFrameIsValidated"},
	{name: "engine: the last message read not given back at a start", file: "mmls/rooms.go",
		edits: []edit{{"Older: olderThan(page), LastRead: read})", "Older: olderThan(page), LastRead: read[:0]})"}},
		pkg:   "./mmls", run: "TestLastReadSurvivesARestart"},
	{name: "store: a room joined under a used name shows what another room of the name left", file: "mmls/store/reuse.go",
		edits: []edit{{"\tif had == want {\n", "\tif had == want || true {\n"}},
		pkg:   "./mmls", run: "TestRoomsOfOneNameAreApart"},
	{name: "store: a room's own leftovers not brought back when it is joined again", file: "mmls/store/reuse.go",
		edits: []edit{{"\tif err := moveRoom(tx, archiveName(want, r.Name), r.Name); err != nil {\n", "\tif err := moveRoom(tx, archiveName(want, r.Name), \"x\"); err != nil {\n"}},
		pkg:   "./mmls/store", run: "TestRoomsOfOneNameKeepApart"},
	{name: "engine: a rejoined room forgets which of our lines wait for receipts", file: "mmls/rooms.go",
		edits: []edit{{"\t\tif o.Room == sr.Name {\n\t\t\te.pend(o)\n", "\t\tif o.Room == sr.Name && false {\n\t\t\te.pend(o)\n"}},
		pkg:   "./mmls", run: "TestRejoinedRoomKeepsItsWaitingLines"},
	{name: "at rest: a sealed store's keys kept in clear", file: "mmls/store/seal.go",
		edits: []edit{{"\tcase b.k == nil || b.own == layoutClear || b.own == layoutSeqs:\n\t\treturn k", "\tcase true:\n\t\treturn k"}},
		pkg:   "./mmls/store", run: "TestSealedStoreRevealsNothing"},
	{name: "at rest: a sealed value not bound to its key", file: "mmls/store/seal.go",
		edits: []edit{{"b.scratch = append(append(append(b.scratch[:0], b.path...), 0xff), sk...)", "b.scratch = append(b.scratch[:0], b.path...)"}},
		pkg:   "./mmls/store", run: "TestTamperedSealedValue"},
	{name: "at rest: a wrong passphrase unwraps", file: "mmls/store/lock.go",
		edits: []edit{{"\tif err != nil {\n\t\treturn nil, ErrPassphrase\n", "\tif err != nil && false {\n\t\treturn nil, ErrPassphrase\n"}},
		pkg:   "./mmls/store", run: "TestWrongPassphrase"},
	{name: "at rest: the passphrase changed without the current one", file: "mmls/store/lock.go",
		edits: []edit{{"\tif _, err := w.unwrap(old); err != nil {", "\tif _, err := w.unwrap(old); false && err != nil {"}},
		pkg:   "./mmls/store", run: "TestChangePassphrase"},
	{name: "at rest: the log written in clear", file: "mmls/store/logfile.go",
		edits: []edit{{"\tif key == nil {\n\t\tif _, err := f.Seek(0, io.SeekEnd)", "\tif true {\n\t\tif _, err := f.Seek(0, io.SeekEnd)"}},
		pkg:   "./mmls/store", run: "TestSealedLog"},
	{name: "at rest: a partial download written in clear", file: "mmls/files/fetch.go",
		edits: []edit{{"f.part.WriteAt(d.Bytes, sealedOffset(f.o, i))", "f.part.WriteAt(plain, sealedOffset(f.o, i))"}},
		pkg:   "./mmls/files", run: "TestResumeAfterRestart"},
	{name: "at rest: a passphrase echoed as it is typed", file: "ui/passphrase.go",
		edits: []edit{{"in.EchoMode = textinput.EchoNone", "in.EchoMode = textinput.EchoNormal"}},
		pkg:   "./ui", run: "TestUnlockPrompt|TestPassphraseCommand"},
	{name: "at rest: an empty first answer seals nothing and is never asked again", file: "mmls/node/unlock.go",
		edits: []edit{{"\t\t\tif err := s.ChoosePlain(true); err != nil {", "\t\t\tif err := s.ChoosePlain(false); err != nil {"}},
		pkg:   "./mmls/node", run: "TestOpenStoreDecides"},
	{name: "at rest: a sealed prefix scan stops at a whole key equal to the prefix", file: "mmls/store/seal.go",
		edits: []edit{{"k[len(k)-1] == 0 && bytes.Equal(rk, sk) {", "k[len(k)-1] == 0 && false {"}},
		pkg:   "./mmls/store", run: "TestSealedKeysKeepPlainOrder"},
	{name: "at rest: one peer the same pseudonym in every bucket", file: "mmls/store/seal.go",
		edits: []edit{{"uint64(len(path)))])\n\tm.Write(path)\n", "0)])\n"}},
		pkg:   "./mmls/store", run: "TestSealedKeysKeepPlainOrder"},
	{name: "delivery cost: an acknowledgement never rides with a frame", file: "transport/conn.go",
		edits: []edit{{"		case alone && !ackNow:", "		case (alone || true) && !ackNow:"}},
		pkg:   "./transport", run: "TestAcknowledgementRidesOrWaits"},
	{name: "delivery cost: an acknowledgement alone never goes", file: "transport/conn.go",
		edits: []edit{{"				ackTimer.Reset(t.cfg.AckDelay)", "				_ = t.cfg.AckDelay"}},
		pkg:   "./transport", run: "TestAcknowledgementRidesOrWaits"},
	{name: "delivery cost: a line reported sent before its commit", file: "mmls/engine.go",
		edits: []edit{{"durable: message || invite || sent})", "durable: message || invite || sent && false})"}},
		pkg:   "./mmls", run: "TestFailedStoreStillSendsTheCommit"},
	{name: "delivery cost: a failed line's numbers kept", file: "mmls/acks.go",
		edits: []edit{{"			r.seqs = nil // numbers given", "			_ = r // numbers given"}},
		pkg:   "./mmls", run: "TestFailedStoreStillSendsTheCommit"},
	{name: "delivery cost: the member index kept across epochs", file: "mmls/mlsguard/group.go",
		edits: []edit{{"if ix.st == g.st && ix.epoch == g.st.Epoch && ix.byFP != nil {", "if ix.byFP != nil {"}},
		pkg:   "./mmls/mlsguard", run: "TestUpdateAndRemove"},
	{name: "audit: the owner takes an update that swaps the member's key", file: "mmls/mlsguard/owner.go",
		edits: []edit{{"\tif !bytes.Equal(kp.Credential.Basic.PublicKey.Data, cur.PublicKey) {", "\tif false && !bytes.Equal(kp.Credential.Basic.PublicKey.Data, cur.PublicKey) {"}},
		pkg:   "./mmls/mlsguard", run: "TestAttackUpdateSwapsIdentityKey"},
	{name: "audit: a commit described without checking an update's key", file: "mmls/mlsguard/owner.go",
		edits: []edit{{"\t\t\tif !ok || !bytes.Equal(m.PublicKey, kp.Credential.Basic.PublicKey.Data) {", "\t\t\tif !ok {"}},
		pkg:   "./mmls/mlsguard", run: "TestAttackUpdateSwapsIdentityKey"},
	{name: "audit: a commit applied without checking an update's key", file: "mmls/mlsguard/apply.go",
		edits: []edit{{"kp.CipherSuite != st.CipherSuite || !sameKey(&kp.Credential, &cur.Credential) ||", "kp.CipherSuite != st.CipherSuite ||"}},
		pkg:   "./mmls/mlsguard", run: "TestAttackUpdateSwapsIdentityKey"},
	{name: "audit: a private room takes the Welcome of an owner nobody vouched for", file: "mmls/dmls/handle.go",
		edits: []edit{{"\tif !s.vouched(from) {\n\t\treturn Output{}, s.wait(from, m)\n\t}\n\thashes", "\tif false {\n\t\treturn Output{}, s.wait(from, m)\n\t}\n\thashes"}},
		pkg:   "./mmls/dmls", run: "TestPrivateRoomAdmitsOnlyVouched"},
	{name: "audit: another owner's re-admission lifts our own kick", file: "mmls/dmls/links.go",
		edits: []edit{{"ok && owner != s.id.Fingerprint() && (by == owner ||", "ok && owner != s.id.Fingerprint() && (by == owner || by == s.id.Fingerprint() ||"}},
		pkg:   "./mmls/dmls", run: "TestOwnKickOutlivesAnotherReadmission"},
	{name: "audit: the gap timer counts from the newest waiting message", file: "mmls/dmls/timers.go",
		edits: []edit{{"now.Sub(rg.buffered[0].at) >= s.cfg.GapTimeout", "now.Sub(rg.buffered[len(rg.buffered)-1].at) >= s.cfg.GapTimeout"}},
		pkg:   "./mmls/dmls", run: "TestGapTimerFromTheOldest"},
	{name: "audit: messages for future epochs held without a count bound", file: "mmls/dmls/timers.go",
		edits: []edit{{"\tif len(rg.buffered) >= s.cfg.MaxBuffered {", "\tif false {"}},
		pkg:   "./mmls/dmls", run: "TestFutureEpochBufferBounds"},
	{name: "audit: messages held for any future epoch", file: "mmls/dmls/timers.go",
		edits: []edit{{"\tif m.Epoch-rg.cur.Epoch() > s.cfg.MaxEpochAhead {", "\tif false {"}},
		pkg:   "./mmls/dmls", run: "TestFutureEpochBufferBounds"},
	{name: "audit: waiting messages drained newest first", file: "mmls/dmls/timers.go",
		edits: []edit{{"\t\tfor i, b := range rg.buffered {\n\t\t\tif b.m.Epoch > rg.cur.Epoch() {", "\t\tfor i := len(rg.buffered) - 1; i >= 0; i-- {\n\t\t\tb := rg.buffered[i]\n\t\t\tif b.m.Epoch > rg.cur.Epoch() {"}},
		pkg:   "./mmls/dmls", run: "TestWaitingDrainedInArrivalOrder"},
	{name: "audit: the previous epoch kept past its grace", file: "mmls/dmls/timers.go",
		edits: []edit{{"\t\tif rg.prev != nil && !now.Before(rg.prevUntil) {", "\t\tif false {"}},
		pkg:   "./mmls/dmls", run: "TestPreviousEpochGrace"},
	{name: "audit: a kicked, absent member still addressed", file: "mmls/dmls/protect.go",
		edits: []edit{{"\t\tif fp != s.id.Fingerprint() && !s.Kicked(fp) && !s.refuses(fp) {", "\t\tif fp != s.id.Fingerprint() && !s.refuses(fp) {"}},
		pkg:   "./mmls", run: "TestKickedAbsentMemberNotAddressed"},
	{name: "audit: a re-send taken from a non-member", file: "mmls/receive.go",
		edits: []edit{{"\tcase orig.s.Kicked(ev.Peer) || !orig.s.HasGroupOf(ev.Peer) && !orig.s.InSendGroup(ev.Peer):", "\tcase false:"}},
		pkg:   "./mmls", run: "TestResendFromNonMemberRefused"},
	{name: "audit: a kick of an absent member not kept", file: "mmls/do.go",
		edits: []edit{{"\tif err := e.st.Kick(r.name, store.Kick{Peer: peer.String(), At: e.now()}); err != nil {", "\tif err := error(nil); err != nil {"}},
		pkg:   "./mmls", run: "TestKickedAbsentMemberNotAddressed"},
	{name: "audit: the autosave setting not kept across a restart", file: "mmls/rooms.go",
		edits: []edit{{"\tif v, err := e.st.Setting(store.SettingAutoSave); err == nil && v != \"\" {", "\tif v, err := e.st.Setting(store.SettingAutoSave); false && err == nil && v != \"\" {"}},
		pkg:   "./mmls", run: "TestAutoSave$"},
	{name: "audit: private-room vouches not kept across a restart", file: "mmls/rooms.go",
		edits: []edit{{"\t\tfor _, v := range append(vouches, members...) {", "\t\tfor _, v := range append(vouches[:0], members...) {"}},
		pkg:   "./mmls", run: "TestInvitationOutlivesRestart"},
	{name: "engine: a failed batch drops the commit its line made", file: "mmls/receive.go",
		edits: []edit{{"\t\tif o.Kind == dmls.KindApp {\n\t\t\te.sendLater(o.To, frame, true, \"\")", "\t\tif true {\n\t\t\te.sendLater(o.To, frame, true, \"\")"}},
		pkg:   "./mmls", run: "TestFailedStore"},
	{name: "audit: a peer's topic drawn raw in the status bar", file: "ui/view.go",
		edits: []edit{{"\t\tleft = clean(form)", "\t\tleft = form"}},
		pkg:   "./ui", run: "TestStatusBarShowsNoRawPeerText"},
	{name: "audit: a peer's topic kept raw", file: "ui/events.go",
		edits: []edit{{"\t\tm.topic[room] = clean(topic)", "\t\tm.topic[room] = topic"}},
		pkg:   "./ui", run: "TestStatusBarShowsNoRawPeerText"},
	{name: "audit: a long paste split inside a UTF-8 sequence", file: "ui/commands.go",
		edits: []edit{{"\t\tfor cut > 0 && !utf8.RuneStart(text[cut]) {", "\t\tfor false && cut > 0 && !utf8.RuneStart(text[cut]) {"}},
		pkg:   "./ui", run: "TestSplitText"},
	{name: "audit: the room cycle forgets where it is", file: "ui/rooms.go",
		edits: []edit{{"\ti := max(0, slices.Index(m.rooms, m.current))\n\tif next {", "\ti := 0\n\tif next {"}},
		pkg:   "./ui", run: "TestRoomKeys"},
	{name: "audit: headless /leave of another room moves the current one", file: "ui/headless/headless.go",
		edits: []edit{{"\t\tif c.Room != current {\n\t\t\treturn current", "\t\tif false {\n\t\t\treturn current"}},
		pkg:   "./ui/headless", run: "TestWhereTextGoes"},
	{name: "audit: a reconnect refused for a stale connection", file: "transport/register.go",
		edits: []edit{{"\treturn true // both dialled by the same side: the old one is stale", "\treturn false // both dialled by the same side: the old one is stale"}},
		pkg:   "./transport", run: "TestReconnectReplacesStaleConnection"},
	{name: "audit: a reconnect keeps the stale connection open", file: "transport/register.go",
		edits: []edit{{"\t\told.close()\n\t}\n\tup := p.conn == nil", "\t\t_ = old\n\t}\n\tup := p.conn == nil"}},
		pkg:   "./transport", run: "TestReconnectReplacesStaleConnection"},
	{name: "audit: a batch's commit error ignored by its caller", file: "mmls/batch.go",
		edits: []edit{{"\terr = b.Commit()\n", "\t_ = b.Commit()\n"}},
		pkg:   "./mmls", run: "TestFailedBatchShowsAndAcknowledgesNothing|TestFailedStoreStillSendsTheCommit"},
	{name: "audit: a saved file reported before the file beside its destination is synced", file: "mmls/files/fetch.go",
		edits: []edit{{"\tif err == nil {\n\t\terr = m.cfg.syncFile(tmp)\n\t}", "\tif false {\n\t\terr = m.cfg.syncFile(tmp)\n\t}"}},
		pkg:   "./mmls/files", run: "TestSavedOnlyOnceSynced"},
	{name: "audit: a saved file reported before its partial file is synced", file: "mmls/files/fetch.go",
		edits: []edit{{"\tif err := m.cfg.syncFile(f.part); err != nil {", "\tif err := error(nil); err != nil {"}},
		pkg:   "./mmls/files", run: "TestSavedOnlyOnceSynced"},
	{name: "audit: a resumed download trusts its progress marks", file: "mmls/files/fetch.go",
		edits: []edit{{"\t\t\tif _, err := f.holding.readFrom(f.part, i); err != nil {\n\t\t\t\tcontinue", "\t\t\tif _, err := f.holding.readFrom(f.part, i); false && err != nil {\n\t\t\t\tcontinue"}},
		pkg:   "./mmls/files", run: "TestResumeChecksTheChunks"},
	{name: "audit: a manifest page taken from someone not asked", file: "mmls/files/fetch.go",
		edits: []edit{{"\tif f.man != nil || from != f.pageFrom || p >= len(f.pages) {", "\tif f.man != nil || p >= len(f.pages) {"}},
		pkg:   "./mmls/files", run: "TestManifestPageOnlyFromWhomWeAsked"},
	{name: "house: /who shows a look-alike's id twice", file: "ui/commands.go",
		edits: []edit{{"\t\tif mv.LookAlike {", "\t\tif false && mv.LookAlike {"}},
		pkg:   "./ui", run: "TestWhoShowsALookAlikesIDOnce"},
	{name: "house: the engine does not say who looks alike", file: "mmls/do.go",
		edits: []edit{{", LookAlike: e.lookAlike(m.ID)})", "})"}},
		pkg:   "./mmls", run: "TestWhoSaysWhoLooksAlike"},
	{name: "house: an id of any length parsed", file: "transport/peerid/peerid.go",
		edits: []edit{{"\tif len(s) != 2*len(id) {", "\tif false {"}},
		pkg:   "./transport/peerid", run: "TestParse"},
	{name: "house: a room full one leaf early", file: "mmls/mlsguard/owner.go",
		edits: []edit{{"int(g.st.Tree.Size())+max(0, adds-blank) > MaxLeaves {", "int(g.st.Tree.Size())+max(0, adds-blank) >= MaxLeaves {"}},
		pkg:   "./mmls/mlsguard", run: "TestRoomFull"},
	{name: "house: a room's blank leaves not counted as room", file: "mmls/mlsguard/owner.go",
		edits: []edit{{"int(g.st.Tree.Size())+max(0, adds-blank) > MaxLeaves {", "int(g.st.Tree.Size())+max(0, adds+blank) > MaxLeaves {"}},
		pkg:   "./mmls/mlsguard", run: "TestRoomFull"},
}

func main() {
	only := flag.String("only", "", "run the mutations whose name contains this")
	flag.Parse()
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	check(err)
	src := strings.TrimSpace(string(root))
	scratch, err := os.MkdirTemp("", "mmls-mutate")
	check(err)
	defer os.RemoveAll(scratch)
	files, err := exec.Command("git", "-C", src, "ls-files", "--cached", "--others", "--exclude-standard").Output()
	check(err)
	for _, f := range strings.Fields(string(files)) {
		b, err := os.ReadFile(filepath.Join(src, f))
		if os.IsNotExist(err) {
			continue // deleted in the working tree
		}
		check(err)
		check(os.MkdirAll(filepath.Join(scratch, filepath.Dir(f)), 0o755))
		check(os.WriteFile(filepath.Join(scratch, f), b, 0o644))
	}
	fmt.Printf("| mutation | result | seconds |\n|---|---|---|\n")
	bad := 0
	for _, m := range mutations {
		if !strings.Contains(m.name, *only) {
			continue
		}
		result, secs := try(scratch, m)
		fmt.Printf("| %s | %s | %.0f |\n", m.name, result, secs)
		if result != "caught" {
			bad++
		}
	}
	if bad > 0 {
		os.Exit(1)
	}
}

// try applies m in scratch, runs its tests, and restores the file.
func try(scratch string, m mutation) (string, float64) {
	path := filepath.Join(scratch, m.file)
	orig, err := os.ReadFile(path)
	check(err)
	defer func() { check(os.WriteFile(path, orig, 0o644)) }()
	mutated := orig
	for _, e := range m.edits {
		if bytes.Count(mutated, []byte(e.from)) != 1 {
			return "does not apply (update the table)", 0
		}
		mutated = bytes.Replace(mutated, []byte(e.from), []byte(e.to), 1)
	}
	check(os.WriteFile(path, mutated, 0o644))
	start := time.Now()
	cmd := exec.Command("go", "test", "-count=1", "-run", m.run, m.pkg)
	cmd.Dir = scratch
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	out, err := cmd.CombinedOutput()
	secs := time.Since(start).Seconds()
	switch {
	case bytes.Contains(out, []byte("no tests to run")):
		return "no test matches " + m.run, secs
	case err == nil:
		if os.Getenv("MUTATE_DEBUG") != "" {
			fmt.Fprintf(os.Stderr, "%s\n", out)
		}
		return "SURVIVED", secs
	case bytes.Contains(out, []byte("build failed")) || bytes.Contains(out, []byte("[setup failed]")):
		return "does not build: " + firstLine(out), secs
	}
	return "caught", secs
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return line
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(2)
	}
}
