# Helper for scripts/conformance. POSIX awk only (runs under mawk): no gawk extensions.
#
# Three modes, chosen with -v mode=...:
#
#   mode=tests   FILE.rs...    Prints "T<TAB>name<TAB>file:line" for every function carrying a
#                              #[test] attribute (other attributes, comments and blank lines may
#                              sit between the attribute and the fn).
#   mode=spec    rmm-Bx.3.N.md...
#                              For each command file prints "C<TAB>iface<TAB>command<TAB>file<TAB>nofc"
#                              and then "I<TAB>command<TAB>id" for each distinct failure-condition
#                              ID, in spec order. Problems with the spec text become
#                              "W<TAB>message" records.
#   mode=report  (stdin: the records of the two modes above)
#                              Prints the coverage report. -v verbose=1 lists covered IDs too;
#                              -v strict=rmi|all makes the exit status 1 when conditions of RMI
#                              (or of any interface) are uncovered or the spec gave warnings.
#
# The spec markdown was converted from PDF, so a failure-conditions section comes in several
# shapes, sometimes mixed within one section:
#   - a markdown table "| ID | Condition |" (the ID is the first cell; a table may restart after a
#     page break with a new header row, or with no header at all, and may have three columns);
#   - a code block (or plain text) with the table flattened: "ID Condition rd_align pre: ... post:
#     ... rd_bound pre: ..."; the ID is the word just before each "pre:";
#   - one word per paragraph ("size\_bound", "pre:", "size &gt; 64", "post:", ...);
#   - stray "## ID" / "## Condition" headings left over from the table header.
# So the section runs from "## B4.3.N.2 Failure conditions" to the next *numbered* heading, and
# IDs are taken from table first cells and from the word before each "pre:" elsewhere.

BEGIN {
    FS = "\t"
    idre = "^[a-z][a-z0-9_]*$"
    iface_of["4"] = "RMI"; iface_of["5"] = "RSI"; iface_of["6"] = "PSCI"
}

function warn(msg) { print "W\t" msg }

function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }

function basename(p) { sub(/.*\//, "", p); return p }

# ---------------------------------------------------------------------------------- tests mode

function tests_line(line,    s, i, c, d, end, attr, t, f) {
    s = line
    sub(/\r$/, "", s)
    s = trim(s)
    if (depth > 0) {                       # inside a multi-line attribute
        for (i = 1; i <= length(s); i++) {
            c = substr(s, i, 1)
            if (c == "[") depth++
            else if (c == "]" && --depth == 0) break
        }
        if (depth > 0) return
        s = trim(substr(s, i + 1))
    }
    while (s ~ /^#!?\[/) {                 # attributes, possibly several on one line
        d = 0; end = 0
        for (i = 1; i <= length(s); i++) {
            c = substr(s, i, 1)
            if (c == "[") d++
            else if (c == "]" && --d == 0) { end = i; break }
        }
        if (!end) { depth = d; return }
        attr = substr(s, 1, end)
        gsub(/[ \t]/, "", attr)
        if (attr == "#[test]") pending = 1
        s = trim(substr(s, end + 1))
    }
    if (s == "" || s ~ /^\/\//) return
    if (pending && match(s, /^(pub(\([^)]*\))?[ \t]+)?((const|async|unsafe)[ \t]+)*fn[ \t]+[A-Za-z_][A-Za-z0-9_]*/)) {
        t = substr(s, RSTART, RLENGTH)
        sub(/.*fn[ \t]+/, "", t)
        f = FILENAME
        sub(/^\.\//, "", f)
        print "T\t" t "\t" f ":" FNR
    }
    pending = 0
}

# ----------------------------------------------------------------------------------- spec mode

function spec_start(file,    b, ch) {
    file_path = file
    b = basename(file)
    ch = b
    sub(/^rmm-B/, "", ch); sub(/\..*/, "", ch)
    fnum = b
    sub(/^rmm-/, "", fnum); sub(/\.md$/, "", fnum)
    iface = (ch in iface_of) ? iface_of[ch] : "?"
    cmd = ""; cmdnum = ""
    insec = 0; inord = 0; sec_seen = 0; nofc = 0; prev = ""
    nid = 0; ndup = 0; ordtext = ""
    split("", seen)
}

function add_id(id, how) {
    gsub(/[`*]/, "", id)
    if (id !~ idre) {
        warn(file_path ": " fnum ".2: unrecognised condition ID '" id "' (" how ")")
        return
    }
    if (id in seen) { ndup++; return }
    seen[id] = 1
    ids[++nid] = id
}

function fc_line(line,    n, tok, i, t, c, p) {
    if (line ~ /does not have any failure conditions/) nofc = 1
    if (line ~ /^[ \t]*\|/) {              # markdown table row
        prev = ""
        if (line ~ /^[ \t]*\|[-:| \t]*$/) return          # separator row
        c = line
        sub(/^[ \t]*\|/, "", c)
        p = index(c, "|")
        if (p) c = substr(c, 1, p - 1)
        gsub(/[`*]/, "", c)
        c = trim(c)
        if (c == "") return                # empty ID cell: continues the previous row
        if (tolower(c) == "id") return     # header row (a table restarted after a page break)
        add_id(c, "table row")
        return
    }
    n = split(line, tok, /[ \t]+/)
    for (i = 1; i <= n; i++) {
        t = tok[i]
        if (t == "") continue
        gsub(/`/, "", t)
        if (t == "pre:") {
            if (prev == "") warn(file_path ": " fnum ".2: 'pre:' with no condition ID before it")
            else add_id(prev, "word before 'pre:'")
        }
        prev = t
    }
}

# IDs named in the "Failure condition ordering" section must be among the extracted ones;
# catches conditions lost by the extraction.
function check_ordering(    s, p, q, inner, n, w, i) {
    s = ordtext
    while ((p = index(s, "[")) > 0) {
        s = substr(s, p + 1)
        q = index(s, "]")
        if (!q) q = length(s) + 1
        inner = substr(s, 1, q - 1)
        s = substr(s, q + 1)
        n = split(inner, w, /[^a-z0-9_]+/)
        for (i = 1; i <= n; i++)
            if (w[i] ~ idre && !(w[i] in seen))
                warn(file_path ": " fnum ".2.1: ordering names '" w[i] "', which is not among the failure conditions found")
    }
}

function spec_finish(    i) {
    if (cmd == "") { warn(file_path ": no command heading found"); return }
    if (!sec_seen) warn(file_path ": no '" cmdnum ".2 Failure conditions' section")
    else if (nid == 0 && !nofc) warn(file_path ": " cmdnum ".2: no condition IDs found")
    else if (nid > 0 && nofc) warn(file_path ": " cmdnum ".2: says it has no failure conditions, yet IDs were found")
    check_ordering()
    print "C\t" iface "\t" cmd "\t" basename(file_path) "\t" nofc
    for (i = 1; i <= nid; i++) print "I\t" cmd "\t" ids[i]
}

function spec_line(line,    h, w, num) {
    sub(/\r$/, "", line)
    gsub(/\\_/, "_", line)                 # markdown escapes: RMI\_DATA\_CREATE, size\_bound
    if (line ~ /^#+[ \t]+B[0-9]+(\.[0-9]+)*([ \t]|$)/) {  # numbered heading: a real section
        h = line
        sub(/^#+[ \t]+/, "", h)
        split(h, w, /[ \t]+/)
        num = w[1]
        if (cmd == "") {                   # first heading: "## B4.3.5 RMI_GRANULE_DELEGATE command"
            cmd = w[2]; cmdnum = num
            if (cmdnum != fnum)
                warn(file_path ": first heading is " cmdnum ", file name says " fnum)
            if (cmd !~ /^[A-Z][A-Z0-9_]*$/ || index(cmd, iface "_") != 1)
                warn(file_path ": unexpected command name '" cmd "' for " iface)
        }
        insec = (num == cmdnum ".2")
        inord = (num == cmdnum ".2.1")
        if (insec) sec_seen = 1
        prev = ""
        return
    }
    if (insec) fc_line(line)
    else if (inord) ordtext = ordtext " " line
}

# --------------------------------------------------------------------------------- report mode

function pad(s, n) { while (length(s) < n) s = s " "; return s }

function report_record(    a, n, k) {
    n = split($0, a, "\t")
    if (a[1] == "T") {
        if (!(a[2] in tloc)) { tnames[++nt] = a[2]; tloc[a[2]] = a[3] }
    } else if (a[1] == "C") {
        ncmd++
        cname[ncmd] = a[3]; ciface[ncmd] = a[2]; cfile[ncmd] = a[4]; cnofc[ncmd] = a[5]
        cidx[a[3]] = ncmd
        cprefix[ncmd] = (a[2] == "RMI") ? tolower(substr(a[3], 5)) : tolower(a[3])
        if (!(a[2] in iseen)) { iseen[a[2]] = 1; ifaces[++nif] = a[2] }
    } else if (a[1] == "I") {
        k = cidx[a[2]]
        cid[k, ++cnid[k]] = a[3]
    } else if (a[1] == "W") {
        nwarn++
        print "conformance: warning: " substr($0, 3) > "/dev/stderr"
    }
}

function report(    t, k, best, blen, p, r, j, id, bid, bidlen, i, cov, tot, line, f, ic, it, all_c, all_t, status, fails) {
    # Attribute each test to the command with the longest matching name prefix (so that
    # data_create_unknown_* is never read as RMI_DATA_CREATE's), then to the longest ID that the
    # rest equals or continues with "_".
    for (t = 1; t <= nt; t++) {
        best = 0; blen = 0
        for (k = 1; k <= ncmd; k++) {
            p = cprefix[k] "_"
            if (index(tnames[t], p) == 1 && length(p) > blen) { best = k; blen = length(p) }
        }
        if (!best) continue
        r = substr(tnames[t], blen + 1)
        bid = ""; bidlen = 0
        for (j = 1; j <= cnid[best]; j++) {
            id = cid[best, j]
            if ((r == id || index(r, id "_") == 1) && length(id) > bidlen) { bid = id; bidlen = length(id) }
        }
        if (bid == "") continue
        if ((best, bid) in by) by[best, bid] = by[best, bid] ", " tnames[t] " (" tloc[tnames[t]] ")"
        else by[best, bid] = tnames[t] " (" tloc[tnames[t]] ")"
    }

    for (i = 1; i <= nif; i++) {
        f = ifaces[i]
        if (i > 1) print ""
        print f " commands"
        for (k = 1; k <= ncmd; k++) {
            if (ciface[k] != f) continue
            cov = 0
            for (j = 1; j <= cnid[k]; j++) if ((k, cid[k, j]) in by) cov++
            tot = cnid[k] + 0
            line = "  " pad(cname[k], 34) " " cov "/" tot
            if (tot == 0) line = line "  (" (cnofc[k] ? "no failure conditions" : "none found") ")"
            print line
            for (j = 1; j <= tot; j++) {
                id = cid[k, j]
                if ((k, id) in by) { if (verbose) print "      covered  " pad(id, 16) " " by[k, id] }
                else print "      missing  " id
            }
            icov[f] += cov; itot[f] += tot
        }
    }
    print ""
    for (i = 1; i <= nif; i++) {
        f = ifaces[i]
        print f ": " (icov[f] + 0) "/" (itot[f] + 0) " failure conditions covered"
        all_c += icov[f]; all_t += itot[f]
    }
    print "Total: " (all_c + 0) "/" (all_t + 0) " failure conditions covered"

    status = 0
    if (strict != "") {
        for (i = 1; i <= nif; i++) {
            f = ifaces[i]
            if ((strict == "all" || f == "RMI") && itot[f] > icov[f]) {
                print "conformance: " (itot[f] - icov[f]) " " f " failure conditions have no test" > "/dev/stderr"
                status = 1
            }
        }
        if (nwarn) {
            print "conformance: " nwarn " warning(s) reading the spec" > "/dev/stderr"
            status = 1
        }
    }
    return status
}

# ------------------------------------------------------------------------------------ dispatch

mode == "tests" { if (FNR == 1) { pending = 0; depth = 0 } tests_line($0); next }
mode == "spec"  { if (FNR == 1) { if (NR > 1) spec_finish(); spec_start(FILENAME) } spec_line($0); next }
mode == "report" { report_record(); next }

END {
    if (mode == "spec" && NR > 0) spec_finish()
    if (mode == "report") exit report()
}
