<?php
use PHPUnit\Framework\TestCase;

final class SettingsTest extends TestCase {

	private function box( $key = 'secret keys of this site' ) {
		return new Gmail_Relay_Bridge_Secret_Box( $key );
	}

	public function test_defaults_are_the_relays_own_and_not_enough_to_send() {
		$s = Gmail_Relay_Bridge_Settings::resolve( grb_constants( array() ), false, $this->box() );
		$this->assertSame( '127.0.0.1', $s->get( 'host' ) );
		$this->assertSame( 2525, $s->get( 'port' ) );
		$this->assertSame( 'none', $s->get( 'security' ) );
		$this->assertSame( 'http://127.0.0.1:8025', $s->get( 'status_url' ) );
		$this->assertSame( 'default', $s->source( 'host' ) );
		$this->assertSame( array( 'user', 'pass' ), $s->missing() );
		$this->assertFalse( $s->can_send() );
		$this->assertSame( array(), $s->errors() );
	}

	public function test_constants_win_over_the_settings_page() {
		$box    = $this->box();
		$stored = array( 'host' => 'relay.internal', 'port' => '2600', 'user' => 'page-user', 'pass' => $box->seal( 'page-pass' ) );
		$s      = Gmail_Relay_Bridge_Settings::resolve(
			grb_constants( array( 'GMAIL_RELAY_HOST' => '10.1.2.3', 'GMAIL_RELAY_PASS' => 'constant-pass', 'GMAIL_RELAY_PORT' => 465, 'GMAIL_RELAY_SECURITY' => 'TLS' ) ),
			$stored,
			$box
		);
		$this->assertSame( '10.1.2.3', $s->get( 'host' ) );
		$this->assertSame( 'constant', $s->source( 'host' ) );
		$this->assertSame( 465, $s->get( 'port' ) );
		$this->assertSame( 'tls', $s->get( 'security' ) );
		$this->assertSame( 'constant-pass', $s->get( 'pass' ) );
		$this->assertSame( 'page-user', $s->get( 'user' ) );
		$this->assertSame( 'option', $s->source( 'user' ) );
		$this->assertTrue( $s->can_send() );
	}

	public function test_stored_secrets_are_opened() {
		$box = $this->box();
		$s   = Gmail_Relay_Bridge_Settings::resolve(
			grb_constants( array() ),
			array( 'user' => 'site1', 'pass' => $box->seal( 'pass word ' ), 'read_token' => $box->seal( 'tok' ) ),
			$box
		);
		$this->assertSame( 'pass word ', $s->get( 'pass' ), 'a password is kept exactly, trailing space included' );
		$this->assertSame( 'tok', $s->get( 'read_token' ) );
		$this->assertTrue( $s->can_send() );
	}

	public function test_a_token_stored_under_the_old_admin_token_key_is_read_and_moved_on_save() {
		$box    = $this->box();
		$before = array( 'user' => 'site1', 'admin_token' => $box->seal( 'old-tok' ) );
		$s      = Gmail_Relay_Bridge_Settings::resolve( grb_constants( array() ), $before, $box );
		$this->assertSame( 'old-tok', $s->get( 'read_token' ) );
		$this->assertSame( 'option', $s->source( 'read_token' ) );

		$saved = Gmail_Relay_Bridge_Settings::sanitize_input( array( 'user' => 'site1', 'read_token' => '' ), $before, grb_constants( array() ), $box );
		$this->assertArrayNotHasKey( 'admin_token', $saved['stored'] );
		$this->assertSame( 'old-tok', $box->open( $saved['stored']['read_token'] ), 'an empty field keeps the token stored under the old key' );
	}

	/**
	 * @dataProvider token_constants
	 */
	public function test_the_read_token_comes_from_its_constant_or_the_old_admin_token_one( $constants, $token, $name ) {
		$s = Gmail_Relay_Bridge_Settings::resolve( grb_constants( $constants ), array( 'read_token' => $this->box()->seal( 'page' ) ), $this->box() );
		$this->assertSame( $token, $s->get( 'read_token' ) );
		$this->assertSame( 'constant', $s->source( 'read_token' ) );
		$this->assertSame( $name, $s->constant_name( 'read_token' ) );
	}

	public function token_constants() {
		return array(
			'read token'        => array( array( 'GMAIL_RELAY_READ_TOKEN' => 'r' ), 'r', 'GMAIL_RELAY_READ_TOKEN' ),
			'admin token'       => array( array( 'GMAIL_RELAY_ADMIN_TOKEN' => 'a' ), 'a', 'GMAIL_RELAY_ADMIN_TOKEN' ),
			'read token wins'   => array( array( 'GMAIL_RELAY_ADMIN_TOKEN' => 'a', 'GMAIL_RELAY_READ_TOKEN' => 'r' ), 'r', 'GMAIL_RELAY_READ_TOKEN' ),
		);
	}

	/**
	 * @dataProvider page_destinations
	 */
	public function test_a_password_from_wp_config_is_refused_with_a_host_or_port_from_the_settings_page( $stored, $field, $constant ) {
		$s = Gmail_Relay_Bridge_Settings::resolve(
			grb_constants( array( 'GMAIL_RELAY_USER' => 'u', 'GMAIL_RELAY_PASS' => 'constant-pass' ) ),
			$stored,
			$this->box()
		);
		$this->assertFalse( $s->can_send() );
		$this->assertArrayHasKey( $field, $s->errors() );
		$this->assertStringContainsString( "GMAIL_RELAY_PASS is defined in wp-config.php, so $constant must be too", $s->errors()[ $field ] );
	}

	public function page_destinations() {
		return array(
			'host'          => array( array( 'host' => 'attacker.example' ), 'host', 'GMAIL_RELAY_HOST' ),
			'port'          => array( array( 'port' => '2600' ), 'port', 'GMAIL_RELAY_PORT' ),
			'the same host' => array( array( 'host' => '127.0.0.1' ), 'host', 'GMAIL_RELAY_HOST' ),
		);
	}

	public function test_a_token_from_wp_config_with_a_status_url_from_the_settings_page_is_an_error_that_does_not_stop_mail() {
		$s = Gmail_Relay_Bridge_Settings::resolve(
			grb_constants( array( 'GMAIL_RELAY_USER' => 'u', 'GMAIL_RELAY_PASS' => 'p', 'GMAIL_RELAY_READ_TOKEN' => 'tok' ) ),
			array( 'status_url' => 'http://attacker.example:8025' ),
			$this->box()
		);
		$this->assertStringContainsString( 'GMAIL_RELAY_READ_TOKEN is defined in wp-config.php, so GMAIL_RELAY_STATUS_URL must be too', $s->errors()['status_url'] );
		$this->assertTrue( $s->can_send() );
	}

	public function test_secrets_from_the_settings_page_may_go_where_the_settings_page_says() {
		$box = $this->box();
		$s   = Gmail_Relay_Bridge_Settings::resolve(
			grb_constants( array( 'GMAIL_RELAY_HOST' => '10.0.0.5' ) ),
			array( 'user' => 'u', 'pass' => $box->seal( 'p' ), 'port' => '2600', 'status_url' => 'http://10.0.0.5:8025', 'read_token' => $box->seal( 't' ) ),
			$box
		);
		$this->assertSame( array(), $s->errors() );
		$this->assertTrue( $s->can_send() );
	}

	public function test_a_secret_sealed_with_other_keys_is_an_error_not_garbage() {
		$s = Gmail_Relay_Bridge_Settings::resolve(
			grb_constants( array() ),
			array( 'user' => 'site1', 'pass' => $this->box( 'old keys' )->seal( 'pw' ) ),
			$this->box( 'new keys' )
		);
		$this->assertSame( '', $s->get( 'pass' ) );
		$this->assertArrayHasKey( 'pass', $s->errors() );
		$this->assertStringContainsString( 'cannot be decrypted', $s->errors()['pass'] );
		$this->assertFalse( $s->can_send() );
	}

	public function test_plaintext_in_the_option_is_not_taken_as_a_password() {
		$s = Gmail_Relay_Bridge_Settings::resolve( grb_constants( array() ), array( 'user' => 'u', 'pass' => 'plain' ), $this->box() );
		$this->assertSame( '', $s->get( 'pass' ) );
		$this->assertFalse( $s->can_send() );
	}

	/**
	 * @dataProvider invalid_values
	 */
	public function test_invalid_constants_are_reported_and_stop_sending( $constant, $value, $message ) {
		$constants = array( 'GMAIL_RELAY_USER' => 'u', 'GMAIL_RELAY_PASS' => 'p', $constant => $value );
		$s         = Gmail_Relay_Bridge_Settings::resolve( grb_constants( $constants ), array(), $this->box() );
		$field     = array_search( $constant, Gmail_Relay_Bridge_Settings::CONSTANTS, true );
		$this->assertArrayHasKey( $field, $s->errors() );
		$this->assertStringContainsString( $message, $s->errors()[ $field ] );
		$this->assertFalse( $s->can_send() );
	}

	public function invalid_values() {
		return array(
			'ssl is PHPMailer\'s word, not ours' => array( 'GMAIL_RELAY_SECURITY', 'ssl', 'not one of none, starttls, tls' ),
			'port zero'                          => array( 'GMAIL_RELAY_PORT', 0, '1 to 65535' ),
			'port too big'                       => array( 'GMAIL_RELAY_PORT', '70000', '1 to 65535' ),
			'port not a number'                  => array( 'GMAIL_RELAY_PORT', '25x', '1 to 65535' ),
			'host with a space'                  => array( 'GMAIL_RELAY_HOST', 'relay host', 'host name or an IP' ),
			'host with a scheme'                 => array( 'GMAIL_RELAY_HOST', 'smtp://relay', 'host name or an IP' ),
			'from not an address'                => array( 'GMAIL_RELAY_FROM', 'owner at example.com', 'not an email address' ),
			'password with a line break'         => array( 'GMAIL_RELAY_PASS', "p\r\nRSET", 'line breaks' ),
			'array value'                        => array( 'GMAIL_RELAY_HOST', array( 'a' ), 'must be text' ),
			'unreadable certificate'             => array( 'GMAIL_RELAY_TLS_CA_FILE', '/nonexistent/relay.pem', 'cannot be read' ),
		);
	}

	public function test_a_bad_status_url_does_not_stop_mail() {
		$s = Gmail_Relay_Bridge_Settings::resolve(
			grb_constants( array( 'GMAIL_RELAY_USER' => 'u', 'GMAIL_RELAY_PASS' => 'p', 'GMAIL_RELAY_STATUS_URL' => 'ftp://x' ) ),
			array(),
			$this->box()
		);
		$this->assertArrayHasKey( 'status_url', $s->errors() );
		$this->assertSame( '', $s->get( 'status_url' ) );
		$this->assertTrue( $s->can_send() );
	}

	public function test_status_url_loses_its_trailing_slash_and_ipv6_hosts_are_accepted() {
		$s = Gmail_Relay_Bridge_Settings::resolve(
			grb_constants( array( 'GMAIL_RELAY_STATUS_URL' => 'http://127.0.0.1:8025/', 'GMAIL_RELAY_HOST' => '[::1]' ) ),
			array(),
			$this->box()
		);
		$this->assertSame( 'http://127.0.0.1:8025', $s->get( 'status_url' ) );
		$this->assertSame( '[::1]', $s->get( 'host' ) );
		$this->assertSame( array(), $s->errors() );
	}

	public function test_the_form_seals_secrets_and_an_empty_password_keeps_the_stored_one() {
		$box   = $this->box();
		$first = Gmail_Relay_Bridge_Settings::sanitize_input(
			array( 'host' => ' 127.0.0.1 ', 'port' => '2525', 'user' => 'site1', 'pass' => 'Secret-1', 'security' => 'starttls', 'from' => 'owner@example.com', 'status_url' => 'http://127.0.0.1:8025/', 'read_token' => 'T0k' ),
			array(),
			grb_constants( array() ),
			$box
		);
		$this->assertSame( array(), $first['errors'] );
		$stored = $first['stored'];
		$this->assertSame( '127.0.0.1', $stored['host'] );
		$this->assertSame( 'http://127.0.0.1:8025', $stored['status_url'] );
		$this->assertStringNotContainsString( 'Secret-1', $stored['pass'] );
		$this->assertStringNotContainsString( 'T0k', $stored['read_token'] );
		$this->assertSame( 'Secret-1', $box->open( $stored['pass'] ) );

		$again = Gmail_Relay_Bridge_Settings::sanitize_input( array( 'host' => 'relay2', 'pass' => '' ), $stored, grb_constants( array() ), $box );
		$this->assertSame( 'relay2', $again['stored']['host'] );
		$this->assertSame( $stored['pass'], $again['stored']['pass'], 'empty password field keeps the stored password' );

		$cleared = Gmail_Relay_Bridge_Settings::sanitize_input( array( 'pass' => '', 'clear_pass' => '1' ), $stored, grb_constants( array() ), $box );
		$this->assertSame( '', $cleared['stored']['pass'] );
	}

	public function test_sanitising_twice_changes_nothing() {
		// WordPress runs the sanitiser again on its own output when it adds a new option.
		$box    = $this->box();
		$once   = Gmail_Relay_Bridge_Settings::sanitize_input( array( 'user' => 'site1', 'pass' => 'pw', 'read_token' => 'tok' ), array(), grb_constants( array() ), $box );
		$twice  = Gmail_Relay_Bridge_Settings::sanitize_input( $once['stored'], array(), grb_constants( array() ), $box );
		$this->assertSame( $once['stored'], $twice['stored'] );
		$this->assertSame( 'pw', $box->open( $twice['stored']['pass'] ) );
	}

	public function test_an_invalid_field_is_reported_and_keeps_the_previous_value() {
		$box    = $this->box();
		$result = Gmail_Relay_Bridge_Settings::sanitize_input(
			array( 'port' => '99999', 'security' => 'ssl', 'user' => 'new-user' ),
			array( 'port' => '2525', 'security' => 'starttls', 'user' => 'old-user' ),
			grb_constants( array() ),
			$box
		);
		$this->assertSame( '2525', $result['stored']['port'] );
		$this->assertSame( 'starttls', $result['stored']['security'] );
		$this->assertSame( 'new-user', $result['stored']['user'], 'valid fields of the same form are still saved' );
		$this->assertSame( array( 'port', 'security' ), array_keys( $result['errors'] ) );
	}

	public function test_fields_set_by_constants_ignore_the_form() {
		$result = Gmail_Relay_Bridge_Settings::sanitize_input(
			array( 'host' => 'evil.example', 'pass' => 'from-form' ),
			array( 'host' => 'kept' ),
			grb_constants( array( 'GMAIL_RELAY_HOST' => '127.0.0.1', 'GMAIL_RELAY_PASS' => 'x' ) ),
			$this->box()
		);
		$this->assertSame( 'kept', $result['stored']['host'] );
		$this->assertSame( '', $result['stored']['pass'] );
	}
}
