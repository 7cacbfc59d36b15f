<?php
use PHPUnit\Framework\TestCase;

require_once __DIR__ . '/wordpress-http-stubs.php';
require_once dirname( __DIR__, 2 ) . '/gmail-relay-bridge/includes/class-gmail-relay-bridge-status-client.php';

final class StatusClientTest extends TestCase {

	const TOKEN = 'read-token-0123456789abcdefghijklmnop';

	protected function setUp(): void {
		Grb_Fake_WordPress::reset();
	}

	private function box() {
		return new Gmail_Relay_Bridge_Secret_Box( 'secret keys of this site' );
	}

	private function fetch( array $constants, array $stored = array() ) {
		$settings = Gmail_Relay_Bridge_Settings::resolve( grb_constants( $constants ), $stored, $this->box() );
		return ( new Gmail_Relay_Bridge_Status_Client( $settings ) )->get( true );
	}

	private function authorizations() {
		return array_map(
			static function ( $request ) {
				return isset( $request['args']['headers']['Authorization'] ) ? $request['args']['headers']['Authorization'] : null;
			},
			Grb_Fake_WordPress::$requests
		);
	}

	public function test_the_read_token_constant_is_sent_as_bearer_to_the_constant_status_url() {
		$status = $this->fetch( array( 'GMAIL_RELAY_READ_TOKEN' => self::TOKEN, 'GMAIL_RELAY_STATUS_URL' => 'http://127.0.0.1:8025' ) );
		$this->assertTrue( $status->reachable, $status->error );
		$this->assertSame(
			array( 'http://127.0.0.1:8025/api/status', 'http://127.0.0.1:8025/api/messages?status=failed&limit=10' ),
			array_column( Grb_Fake_WordPress::$requests, 'url' )
		);
		$this->assertSame( array( 'Bearer ' . self::TOKEN, 'Bearer ' . self::TOKEN ), $this->authorizations() );
	}

	public function test_requests_go_through_wp_safe_remote_get_only() {
		$this->fetch( array( 'GMAIL_RELAY_STATUS_URL' => 'http://127.0.0.1:8025' ) );
		$this->assertNotEmpty( Grb_Fake_WordPress::$requests );
		$this->assertSame( array( 'wp_safe_remote_get' ), array_values( array_unique( array_column( Grb_Fake_WordPress::$requests, 'function' ) ) ) );
		$this->assertSame( 0, Grb_Fake_WordPress::$requests[0]['args']['redirection'], 'a redirect could carry the token elsewhere' );
	}

	public function test_exactly_the_status_urls_host_and_port_pass_wordpress_url_validation_during_the_request() {
		$this->fetch( array( 'GMAIL_RELAY_STATUS_URL' => 'http://127.0.0.1:8025' ) );
		$request = Grb_Fake_WordPress::$requests[0];
		$this->assertSame( 'wp_safe_remote_get', $request['function'] );
		$this->assertTrue( $request['host_allowed'], 'wp_http_validate_url() would refuse 127.0.0.1' );
		$this->assertContains( 8025, $request['ports'], 'wp_http_validate_url() would refuse port 8025' );
		$this->assertFalse( $request['other_host_allowed'], 'another private host was let through too' );
		$this->assertSame( array( 80, 443, 8080 ), $request['other_host_ports'] );
		$this->assertSame( array(), Grb_Fake_WordPress::$filters, 'the filters outlive the request' );
	}

	public function test_a_status_url_without_a_port_adds_no_port() {
		$this->fetch( array( 'GMAIL_RELAY_STATUS_URL' => 'https://relay.internal' ) );
		$this->assertSame( 'https://relay.internal/api/status', Grb_Fake_WordPress::$requests[0]['url'] );
		$this->assertTrue( Grb_Fake_WordPress::$requests[0]['host_allowed'] );
		$this->assertSame( array( 80, 443, 8080 ), Grb_Fake_WordPress::$requests[0]['ports'] );
	}

	/**
	 * @dataProvider token_constants
	 */
	public function test_a_token_constant_is_never_sent_to_a_status_url_from_the_settings_page( $constant ) {
		$status = $this->fetch(
			array( $constant => self::TOKEN ),
			array( 'status_url' => 'http://attacker.example:8025' )
		);
		$this->assertSame( array(), array_filter( $this->authorizations() ), 'a request carried the token' );
		$this->assertSame( array(), Grb_Fake_WordPress::$requests, 'the settings page\'s URL was asked at all' );
		$this->assertFalse( $status->reachable );
		$this->assertStringContainsString( $constant . ' is defined in wp-config.php, so GMAIL_RELAY_STATUS_URL must be too', $status->error );
	}

	public function token_constants() {
		return array(
			'read token'                 => array( 'GMAIL_RELAY_READ_TOKEN' ),
			'admin token, the old name' => array( 'GMAIL_RELAY_ADMIN_TOKEN' ),
		);
	}

	public function test_the_old_admin_token_constant_is_still_sent() {
		$this->fetch( array( 'GMAIL_RELAY_ADMIN_TOKEN' => 'old-tok', 'GMAIL_RELAY_STATUS_URL' => 'http://127.0.0.1:8025' ) );
		$this->assertSame( array( 'Bearer old-tok', 'Bearer old-tok' ), $this->authorizations() );
		$this->assertSame( 'wp_safe_remote_get', Grb_Fake_WordPress::$requests[0]['function'] );
	}

	public function test_a_token_from_the_settings_page_goes_to_the_settings_pages_url() {
		// The administrator's own secret to the administrator's own URL: nothing to protect.
		$status = $this->fetch( array(), array( 'status_url' => 'http://127.0.0.1:9025', 'read_token' => $this->box()->seal( 'page-tok' ) ) );
		$this->assertTrue( $status->reachable, $status->error );
		$this->assertSame( array( 'Bearer page-tok', 'Bearer page-tok' ), $this->authorizations() );
		$this->assertSame( 'wp_safe_remote_get', Grb_Fake_WordPress::$requests[0]['function'] );
	}

	public function test_a_refused_url_says_so_and_names_the_url() {
		Grb_Fake_WordPress::$answer = static function () {
			return new WP_Error( 'http_request_failed', 'A valid URL was not provided.' );
		};
		$status = $this->fetch( array( 'GMAIL_RELAY_STATUS_URL' => 'http://127.0.0.1:8025' ) );
		$this->assertSame( array( 'wp_safe_remote_get' ), array_column( Grb_Fake_WordPress::$requests, 'function' ) );
		$this->assertFalse( $status->reachable );
		$this->assertStringContainsString( 'could not be reached at http://127.0.0.1:8025/api/status: A valid URL was not provided.', $status->error );
		$this->assertSame( array(), Grb_Fake_WordPress::$filters, 'the filters outlive a failed request' );
	}

	public function test_on_a_network_the_sites_share_one_cached_snapshot() {
		Grb_Fake_WordPress::$multisite = true;
		$settings = Gmail_Relay_Bridge_Settings::resolve( grb_constants( array( 'GMAIL_RELAY_STATUS_URL' => 'http://127.0.0.1:8025' ) ), array(), $this->box() );
		$first    = ( new Gmail_Relay_Bridge_Status_Client( $settings ) )->get();
		$this->assertTrue( $first->reachable, $first->error );
		$this->assertSame( array(), Grb_Fake_WordPress::$transients, 'a network-wide status is not cached per site' );
		$this->assertArrayHasKey( Gmail_Relay_Bridge_Status_Client::TRANSIENT, Grb_Fake_WordPress::$site_transients );
		$count = count( Grb_Fake_WordPress::$requests );
		$again = ( new Gmail_Relay_Bridge_Status_Client( $settings ) )->get();
		$this->assertSame( $count, count( Grb_Fake_WordPress::$requests ), 'another site reads the cached snapshot' );
		$this->assertSame( $first->accounts, $again->accounts );
		Gmail_Relay_Bridge_Status_Client::forget();
		$this->assertSame( array(), Grb_Fake_WordPress::$site_transients );
	}
}
