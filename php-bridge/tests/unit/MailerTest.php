<?php
use PHPMailer\PHPMailer\PHPMailer;
use PHPUnit\Framework\TestCase;

final class MailerTest extends TestCase {

	private function settings( array $constants ) {
		$constants += array( 'GMAIL_RELAY_USER' => 'site1', 'GMAIL_RELAY_PASS' => 'pw-1' );
		$s          = Gmail_Relay_Bridge_Settings::resolve( grb_constants( $constants ), array(), new Gmail_Relay_Bridge_Secret_Box( 'k' ) );
		$this->assertTrue( $s->can_send(), json_encode( $s->errors() ) );
		return $s;
	}

	private function mailer() {
		$mail = new PHPMailer( true );
		$mail->setFrom( 'wordpress-chosen@example.org', 'Site', false );
		return $mail;
	}

	/**
	 * @dataProvider securities
	 */
	public function test_security_maps_to_phpmailer_and_auto_tls_is_always_off( $security, $smtp_secure ) {
		$mail = $this->mailer();
		$this->assertTrue( $mail->SMTPAutoTLS, 'PHPMailer\'s own default upgrades to STARTTLS' );
		Gmail_Relay_Bridge_Mailer::configure( $mail, $this->settings( array( 'GMAIL_RELAY_SECURITY' => $security, 'GMAIL_RELAY_HOST' => 'relay.test', 'GMAIL_RELAY_PORT' => '2587' ) ) );
		$this->assertSame( 'smtp', $mail->Mailer );
		$this->assertSame( 'relay.test', $mail->Host );
		$this->assertSame( 2587, $mail->Port );
		$this->assertTrue( $mail->SMTPAuth );
		$this->assertSame( 'site1', $mail->Username );
		$this->assertSame( 'pw-1', $mail->Password );
		$this->assertSame( $smtp_secure, $mail->SMTPSecure );
		$this->assertFalse( $mail->SMTPAutoTLS );
		$this->assertFalse( $mail->SMTPKeepAlive );
		$this->assertSame( 30, $mail->Timeout );
	}

	public function securities() {
		return array(
			'none'     => array( 'none', '' ),
			'starttls' => array( 'starttls', PHPMailer::ENCRYPTION_STARTTLS ),
			'tls'      => array( 'tls', PHPMailer::ENCRYPTION_SMTPS ),
		);
	}

	public function test_envelope_sender_is_the_relay_account_else_the_from() {
		$mail = $this->mailer();
		Gmail_Relay_Bridge_Mailer::configure( $mail, $this->settings( array( 'GMAIL_RELAY_FROM' => 'owner@example.com' ) ) );
		$this->assertSame( 'owner@example.com', $mail->Sender );
		$this->assertSame( 'wordpress-chosen@example.org', $mail->From, 'the From itself is not touched here' );

		$mail = $this->mailer();
		Gmail_Relay_Bridge_Mailer::configure( $mail, $this->settings( array() ) );
		$this->assertSame( 'wordpress-chosen@example.org', $mail->Sender );
	}

	/**
	 * @dataProvider password_destinations
	 */
	public function test_a_password_from_wp_config_goes_only_to_a_host_and_port_from_wp_config( $constants, $stored, $routed, $host, $port ) {
		$box      = new Gmail_Relay_Bridge_Secret_Box( 'k' );
		$settings = Gmail_Relay_Bridge_Settings::resolve(
			grb_constants( $constants + array( 'GMAIL_RELAY_USER' => 'site1', 'GMAIL_RELAY_PASS' => 'constant-pass' ) ),
			$stored,
			$box
		);
		$mail = $this->mailer();
		$this->assertSame( $routed, Gmail_Relay_Bridge_Mailer::configure( $mail, $settings ) );
		if ( $routed ) {
			$this->assertSame( 'constant-pass', $mail->Password );
			$this->assertSame( 'smtp', $mail->Mailer );
		} else {
			$this->assertSame( '', $mail->Password, 'the password was handed to PHPMailer' );
			$this->assertSame( '', $mail->Username );
			$this->assertSame( 'mail', $mail->Mailer, 'PHPMailer was pointed at the settings page\'s host' );
		}
		$this->assertSame( $host, $mail->Host );
		$this->assertSame( $port, $mail->Port );
	}

	public function password_destinations() {
		$page = array( 'host' => 'attacker.example', 'port' => '2600' );
		return array(
			'page host and port'        => array( array(), $page, false, 'localhost', 25 ),
			'constant host, page port' => array( array( 'GMAIL_RELAY_HOST' => 'relay.test' ), $page, false, 'localhost', 25 ),
			'constant host and port'   => array( array( 'GMAIL_RELAY_HOST' => 'relay.test', 'GMAIL_RELAY_PORT' => 2525 ), $page, true, 'relay.test', 2525 ),
			'defaults, nothing stored' => array( array(), array(), true, '127.0.0.1', 2525 ),
		);
	}

	public function test_timeout_is_taken_from_the_caller() {
		$mail = $this->mailer();
		Gmail_Relay_Bridge_Mailer::configure( $mail, $this->settings( array() ), 7 );
		$this->assertSame( 7, $mail->Timeout );
	}

	public function test_a_ca_file_is_trusted_and_still_verified() {
		$ca   = tempnam( sys_get_temp_dir(), 'grb-ca' );
		$mail = $this->mailer();
		Gmail_Relay_Bridge_Mailer::configure( $mail, $this->settings( array( 'GMAIL_RELAY_SECURITY' => 'starttls', 'GMAIL_RELAY_TLS_CA_FILE' => $ca ) ) );
		$this->assertSame( array( 'ssl' => array( 'cafile' => $ca, 'verify_peer' => true, 'verify_peer_name' => true ) ), $mail->SMTPOptions );
		unlink( $ca );
	}

	public function test_no_tls_options_without_a_ca_file() {
		$mail = $this->mailer();
		Gmail_Relay_Bridge_Mailer::configure( $mail, $this->settings( array( 'GMAIL_RELAY_SECURITY' => 'tls' ) ) );
		$this->assertSame( array(), $mail->SMTPOptions );
	}

	public function test_the_smtp_client_that_keeps_the_reply_is_installed_once() {
		$mail = $this->mailer();
		Gmail_Relay_Bridge_Mailer::configure( $mail, $this->settings( array() ) );
		$smtp = $mail->getSMTPInstance();
		$this->assertInstanceOf( Gmail_Relay_Bridge_SMTP::class, $smtp );
		$this->assertSame( '', $smtp->get_message_reply() );
		Gmail_Relay_Bridge_Mailer::configure( $mail, $this->settings( array() ) );
		$this->assertSame( $smtp, $mail->getSMTPInstance() );
	}

	/**
	 * @dataProvider home_urls
	 */
	public function test_wordpress_default_from_mirrors_wp_mail( $home, $expected ) {
		$this->assertSame( $expected, Gmail_Relay_Bridge_Mailer::wordpress_default_from( $home ) );
	}

	public function home_urls() {
		return array(
			array( 'http://localhost:8080', 'wordpress@localhost' ),
			array( 'https://www.example.com/blog/', 'wordpress@example.com' ),
			array( 'https://shop.example.net', 'wordpress@shop.example.net' ),
			array( '', 'wordpress@' ),
		);
	}

	public function test_only_wordpress_default_from_is_replaced() {
		$default = 'wordpress@localhost';
		$this->assertSame( 'owner@example.com', Gmail_Relay_Bridge_Mailer::choose_from( 'wordpress@localhost', $default, 'owner@example.com' ) );
		$this->assertSame( 'owner@example.com', Gmail_Relay_Bridge_Mailer::choose_from( 'WordPress@LOCALHOST', $default, 'owner@example.com' ) );
		$this->assertSame( 'shop@example.org', Gmail_Relay_Bridge_Mailer::choose_from( 'shop@example.org', $default, 'owner@example.com' ) );
		$this->assertSame( 'wordpress@localhost', Gmail_Relay_Bridge_Mailer::choose_from( 'wordpress@localhost', $default, '' ), 'nothing to replace it with' );
	}

	/**
	 * @dataProvider replies
	 */
	public function test_only_smtp_replies_are_kept_as_the_relays_answer( $raw, $kept ) {
		require_once dirname( __DIR__, 2 ) . '/gmail-relay-bridge/includes/class-gmail-relay-bridge-smtp.php';
		$this->assertSame( $kept, Gmail_Relay_Bridge_SMTP::as_reply( $raw ) );
	}

	public function replies() {
		return array(
			'sent'            => array( "250 2.0.0 Ok: sent as 18c2f (log 12)\r\n", '250 2.0.0 Ok: sent as 18c2f (log 12)' ),
			'refused'         => array( "554 5.6.0 Invalid To header (log 13)\r\n", '554 5.6.0 Invalid To header (log 13)' ),
			'multi-line'      => array( "535-5.7.8 one\r\n535 5.7.8 two\r\n", "535-5.7.8 one\r\n535 5.7.8 two" ),
			'UTF-8 text'      => array( '554 5.6.0 Ungültige Adresse', '554 5.6.0 Ungültige Adresse' ),
			'TLS record'      => array( "\x17\x03\x03\x00\x13Q\xb1", '' ),
			'not UTF-8'       => array( "550 \xff\xfe", '' ),
			'nothing'         => array( '', '' ),
			'not a reply code' => array( '999 what', '' ),
		);
	}
}
