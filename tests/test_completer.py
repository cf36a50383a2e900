"""What TAB offers in `xsp shell`: CLICompleter on prompt_toolkit Documents, real engines."""
from __future__ import annotations

from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from xsp.cli.completer import CLICompleter
from xsp.cli.engine import Engine
from xsp.config.store import Store
from xsp.testing import shell_engine

IP = "127.0.0.1"
ROOT_WORDS = ["System", "Interface", "cd", "help", "exit", "quit", "emu"]
EMU_COMMANDS = ["status", "restart", "nodes", "addnode", "users", "adduser", "deluser",
                "effective", "record", "xsi", "limits", "limit"]


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    """An XSP engine at the root, with one (plain) CTI interface configured."""
    engine = shell_engine(Store(tmp_path / "state"))
    result = engine.execute(f"cd /Interface/CTI/CTIServer;add {IP} 8012 false false false;cd /")
    assert result.ok, result.text
    return engine


def completions(engine: Engine, text: str) -> list[str]:
    """The texts offered with the cursor at the end of ``text``."""
    return [c.text for c in _complete(engine, text)]


def _complete(engine: Engine, text: str):
    event = CompleteEvent(completion_requested=True)
    return list(CLICompleter(engine).get_completions(Document(text), event))


def at(engine: Engine, path: str) -> Engine:
    assert engine.execute(f"cd {path}").ok
    return engine


# --- the first word -----------------------------------------------------------------

def test_empty_line_at_root_offers_levels_then_global_commands(engine):
    assert completions(engine, "") == ROOT_WORDS


def test_level_offers_its_children_commands_and_globals(engine):
    at(engine, "/Interface/CTI/CTIServer")
    assert completions(engine, "") == ["SSLSettings", "get", "add", "delete",
                                       "cd", "help", "exit", "quit", "emu"]


def test_prefix_is_case_insensitive_and_replaces_the_typed_word(engine):
    """`inTER` completes to `Interface `, replacing the five typed characters; a unique
    match ends with a space, as in bwcli."""
    [completion] = _complete(engine, "inTER")
    assert (completion.text, completion.start_position) == ("Interface ", -5)


def test_ambiguous_prefix_offers_every_match(engine):
    assert completions(engine, "e") == ["exit", "emu"]


def test_unknown_prefix_offers_nothing(engine):
    assert completions(engine, "xyz") == []


def test_as_node_root_offers_the_as_tree(tmp_path):
    engine = shell_engine(Store(tmp_path / "state"), "as1")
    assert completions(engine, "S") == ["System "]
    assert completions(engine, "sys;cli;") == ["get", "add", "delete", "cd", "help", "exit", "quit", "emu"]


# --- steps joined by ';' --------------------------------------------------------------

def test_steps_before_semicolons_set_the_level_of_the_last_word(engine):
    assert completions(engine, "int;cti;") == ["SSLCommonSettings", "CTIServer",
                                               "cd", "help", "exit", "quit", "emu"]


def test_abbreviated_steps_reach_an_interface_parameter(engine):
    """`int;cti;ctis;ssl;prot;add ` offers the configured interface IP."""
    assert completions(engine, "int;cti;ctis;ssl;prot;add ") == [IP + " "]


def test_steps_do_not_move_the_engine(engine):
    completions(engine, "int;cti;ctis;")
    assert engine.context.path == ""


def test_dotdot_step_goes_up(engine):
    at(engine, "/Interface/CTI/CTIServer")
    assert completions(engine, "..;CTIS") == ["CTIServer "]


def test_cd_step_without_a_path_goes_to_the_root(engine):
    at(engine, "/Interface/CTI")
    assert completions(engine, "cd;I") == ["Interface "]


def test_absolute_path_step_sets_the_level(engine):
    assert completions(engine, "/Interface/CTI/CTIServer;g") == ["get "]


def test_semicolon_inside_quotes_is_not_a_step(engine, tmp_path):
    """A quoted `;` belongs to the word, as the engine reads it: no new step starts there."""
    (tmp_path / "root.pem").write_text("")
    at(engine, "/Interface/CTI/SSLCommonSettings/ClientAuthentication/Trusts")
    assert completions(engine, f'updateTrust "a;b" {tmp_path}/ro') == [f"{tmp_path}/root.pem "]
    assert completions(engine, 'updateTrust "a;e') == []


def test_nothing_after_a_step_the_engine_would_refuse(engine):
    """The engine stops a line at its first failing step, so later steps get no offers."""
    assert completions(engine, "nosuchlevel;") == []
    assert completions(engine, "cd /Interface/Nowhere;") == []
    assert completions(engine, "Interface get;") == []


def test_nothing_after_exit_on_the_same_line(engine):
    """`exit` asks its question and the rest of the line never runs."""
    assert completions(engine, "exit;") == []


# --- cd paths -------------------------------------------------------------------------

def test_cd_completes_an_absolute_path(engine):
    [completion] = _complete(engine, "cd /Interface/C")
    assert (completion.text, completion.start_position) == ("/Interface/CTI", -len("/Interface/C"))


def test_cd_after_a_slash_offers_the_children_and_dotdot(engine):
    assert completions(engine, "cd /Interface/CTI/") == [
        "/Interface/CTI/SSLCommonSettings", "/Interface/CTI/CTIServer", "/Interface/CTI/.."]


def test_cd_relative_path_walks_abbreviations(engine):
    at(engine, "/Interface")
    assert completions(engine, "cd cti/ctis/s") == ["cti/ctis/SSLSettings"]


def test_cd_dotdot_walks_up(engine):
    at(engine, "/Interface/CTI")
    assert completions(engine, "cd ..") == [".."]
    assert completions(engine, "cd ../") == ["../CTI", "../.."]


def test_cd_takes_one_path_only(engine):
    assert completions(engine, "cd /Interface ") == []


def test_abbreviated_cd_completes_paths(engine):
    """`c` is `cd` at the root (no level starts with c), so its argument is a path."""
    assert completions(engine, "c /Int") == ["/Interface"]


def test_path_as_first_word_completes_like_cd(engine):
    """The engine runs `/Interface/CTI` as `cd /Interface/CTI`; TAB completes it the same way."""
    assert completions(engine, "/Interface/C") == ["/Interface/CTI"]
    at(engine, "/Interface")
    assert completions(engine, "../S") == ["../System"]


# --- parameters -----------------------------------------------------------------------

def test_protocol_values_by_prefix(engine):
    assert completions(engine, f"int;cti;ctis;ssl;prot;add {IP} TLSv1.") == ["TLSv1.1", "TLSv1.2", "TLSv1.3"]
    assert completions(engine, "sys;sslc;jsse;prot;add tlsv1.3") == ["TLSv1.3 "]


def test_cipher_names_by_prefix_at_the_system_level(engine):
    """IANA names complete from any case-insensitive prefix, in code point order."""
    line = "sys;sslc;jsse;cip;add "
    assert completions(engine, line + "TLS_ECDHE_ECDSA_WITH_CHACHA") == [
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 "]
    assert completions(engine, line + "tls_aes_") == [
        "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
        "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256"]
    assert completions(engine, line + "NOT_A_SUITE") == []


def test_cipher_name_after_the_interface_ip(engine):
    line = f"int;cti;ctis;ssl;cip;add {IP} TLS_ECDHE_RSA_WITH_AES_128_G"
    assert completions(engine, line) == ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 "]
    assert completions(engine, f"int;cti;ctis;ssl;cip;delete {IP} TLS_ECDHE_RSA_WITH_AES_128_G") == [
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 "]


def test_boolean_values_of_cti_server_add(engine):
    assert completions(engine, "int;cti;ctis;add 10.0.0.1 8012 ") == ["false", "true"]
    assert completions(engine, "int;cti;ctis;add 10.0.0.1 8012 true t") == ["true "]


def test_nothing_after_the_last_parameter(engine):
    assert completions(engine, f"int;cti;ctis;ssl;prot;add {IP} TLSv1.2 ") == []
    assert completions(engine, "int;cti;ctis;get ") == []


def test_optional_interface_of_get_is_offered(engine):
    assert completions(engine, "int;cti;ctis;ssl;cip;get ") == [IP + " "]


def test_abbreviated_command_takes_its_parameters(engine):
    assert completions(engine, "int;cti;ctis;ssl;prot;a 1") == [IP + " "]


def test_sslupdate_offers_each_keyword_once(engine):
    line = f"int;cti;ctis;ssl;cert;sslUpdate {IP} "
    assert completions(engine, line) == ["keyFile", "certificateFile", "chainFile"]
    assert completions(engine, line + "keyFile k.pem ") == ["certificateFile", "chainFile"]
    assert completions(engine, line + "chainFile c.pem keyFile k.pem ") == ["certificateFile "]
    assert completions(engine, line + "keyFile k.pem chainFile c.pem certificateFile s.pem ") == []


def test_sslupdate_keywords_are_matched_case_insensitively(engine):
    """The engine accepts `keyfile`; TAB must not offer `keyFile` a second time."""
    line = f"int;cti;ctis;ssl;cert;sslUpdate {IP} keyfile k.pem "
    assert completions(engine, line) == ["certificateFile", "chainFile"]


def test_sslupdate_keyword_value_is_a_file_path(engine, tmp_path):
    """After a keyword, files and directories (marked with `/`) of the typed directory."""
    files = tmp_path / "files"
    (files / "old").mkdir(parents=True)
    (files / "server.key").write_text("")
    (files / "server.pem").write_text("")
    line = f"int;cti;ctis;ssl;cert;sslUpdate {IP} keyFile {files}/"
    assert completions(engine, line) == [f"{files}/old/", f"{files}/server.key", f"{files}/server.pem"]
    assert completions(engine, line + "server.k") == [f"{files}/server.key "]
    line = f"int;cti;ctis;ssl;cert;sslUpdate {IP} keyFile k.pem certificateFile {files}/server.p"
    assert completions(engine, line) == [f"{files}/server.pem "]


def test_sslupdate_partial_keyword(engine):
    assert completions(engine, f"int;cti;ctis;ssl;cert;sslUpdate {IP} c") == ["certificateFile", "chainFile"]


def test_attribute_keyword_then_boolean(engine):
    line = "sys;comm;def;ext;cert;set "
    assert completions(engine, line) == ["allowClientApp "]
    assert completions(engine, line + "allowClientApp ") == ["false", "true"]


def test_trust_alias_of_delete_comes_from_the_configuration(engine, tmp_path):
    from xsp_trust import CertificateAuthority

    ca_file = tmp_path / "root.pem"
    ca_file.write_bytes(CertificateAuthority.new_root("Internal Private Root").cert_pem)
    trusts = "int;cti;ssl;clientauth;trusts;"
    assert engine.execute(f"{trusts}updateTrust webexroot {ca_file};cd /").ok
    assert completions(engine, trusts + "delete ") == ["webexroot "]
    assert completions(engine, trusts + "delete W") == ["webexroot "]


def test_path_with_a_space_is_inserted_quoted_and_listed_by_its_name(engine, tmp_path):
    """The engine splits words like a shell, so a path with a space must reach it quoted."""
    (tmp_path / "my certs").mkdir()
    line = f"int;cti;ssl;clientauth;trusts;updateTrust webex {tmp_path}/my"
    [completion] = _complete(engine, line)
    assert completion.text == f"'{tmp_path}/my certs/'"
    assert completion.display_text == "my certs/"
    assert completion.start_position == -len(f"{tmp_path}/my")


def test_word_with_an_open_quote_is_matched_without_it_and_replaced_whole(engine):
    [completion] = _complete(engine, f'int;cti;ctis;ssl;prot;add {IP} "TLSv1.3')
    assert (completion.text, completion.start_position) == ("TLSv1.3 ", -len('"TLSv1.3'))


def test_updatetrust_file_parameter_completes_paths(engine, tmp_path):
    (tmp_path / "CombinedCertChain2023.txt").write_text("")
    line = f"int;cti;ssl;clientauth;trusts;updateTrust webex {tmp_path}/Comb"
    assert completions(engine, line) == [f"{tmp_path}/CombinedCertChain2023.txt "]


# --- emulator commands ----------------------------------------------------------------

def test_emu_offers_its_subcommands(engine):
    assert completions(engine, "emu ") == EMU_COMMANDS
    assert completions(engine, "emu add") == ["addnode", "adduser"]
    assert completions(engine, "em r") == ["restart", "record"]
    assert completions(engine, "em res") == ["restart "]


def test_emu_subcommand_parameters(engine):
    assert completions(engine, "emu addnode xsp2 ") == ["XSP", "ADP", "CUCM"]
    assert completions(engine, "emu deluser b") == ["bob@example.com "]


def test_emu_from_a_deep_level(engine):
    at(engine, "/Interface/CTI/CTIServer/SSLSettings/Certificates")
    assert completions(engine, "emu st") == ["status "]


# --- help -----------------------------------------------------------------------------

def test_help_offers_the_commands_and_levels_of_the_current_level(engine):
    at(engine, "/Interface/CTI/CTIServer")
    assert completions(engine, "help ") == ["get", "add", "delete", "SSLSettings",
                                            "cd", "help", "exit", "quit", "emu"]
    assert completions(engine, "help a") == ["add "]
    assert completions(engine, "h d") == ["delete "]


def test_help_after_steps(engine):
    assert completions(engine, "int;cti;ctis;ssl;cert;help ssl") == ["sslUpdate "]


def test_help_emu_offers_the_emulator_commands(engine):
    assert completions(engine, "help emu ") == EMU_COMMANDS
    assert completions(engine, "help emu add") == ["addnode", "adduser"]


def test_help_takes_one_command(engine):
    at(engine, "/Interface/CTI/CTIServer")
    assert completions(engine, "help add ") == []


def test_a_unique_match_gets_a_space_but_a_level_path_goes_on(engine):
    assert completions(engine, "int") == ["Interface "]
    assert completions(engine, "e") == ["exit", "emu"]  # not unique: no space
    assert completions(engine, "cd /Int") == ["/Interface"]  # a path may go deeper
    assert completions(engine, "/Interface/C") == ["/Interface/CTI"]
