# cmake -DAGENT=path -DEMULATOR="qemu ..." -DVERSION=x.y.z -DOUT=edge-agent.1.gz -P ManPage.cmake
# Writes the man page from `edge-agent --help` (see cmake/Packaging.cmake), gzipped with -9n
# (no name or time stamp: the same input gives the same bytes).
separate_arguments(emulator UNIX_COMMAND "${EMULATOR}")
execute_process(COMMAND ${emulator} ${AGENT} --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${AGENT} --help failed (${rc})")
endif()
# roff: a backslash is an escape, and a line starting with a dot or quote is a request.
string(REPLACE "\\" "\\e" help "${help}")
string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" help "${help}")
set(page ".TH EDGE-AGENT 1 \"\" \"edge-agent ${VERSION}\" \"User Commands\"
.SH NAME
edge-agent \\- power-loss-safe forwarding of gateway payloads to RabbitMQ
.SH SYNOPSIS
.B edge-agent
.I COMMAND
.RI [ ARGS ]
.SH DESCRIPTION
The text below is what
.B edge-agent --help
prints; each command also takes
.BR --help .
.PP
.nf
${help}.fi
.SH FILES
.TP
.I /etc/edge-agent/agent.json
the configuration (every field: \\fBedge-agent config-reference\\fR)
.TP
.I /var/lib/edge-agent/ring
the on-disk ring
.TP
.I /run/edge-agent/intake.sock
the intake socket producers send payloads to
.SH SEE ALSO
.I /usr/share/doc/edge-agent/README.md
")
get_filename_component(plain "${OUT}" NAME_WLE)
get_filename_component(dir "${OUT}" DIRECTORY)
file(WRITE "${dir}/${plain}" "${page}")
execute_process(COMMAND gzip -9n -f "${dir}/${plain}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gzip ${dir}/${plain} failed")
endif()
