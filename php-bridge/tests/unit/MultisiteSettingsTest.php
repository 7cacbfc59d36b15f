<?php
use PHPUnit\Framework\TestCase;

/**
 * On a network: constants > the site's own login (network settings, per site) > the network's
 * settings > defaults, a site's login taken whole.
 */
final class MultisiteSettingsTest extends TestCase {

	private function box() {
		return new Gmail_Relay_Bridge_Secret_Box( 'network secret keys' );
	}

	private function network( Gmail_Relay_Bridge_Secret_Box $box ) {
		return array(
			'host'       => 'relay.internal',
			'port'       => '2600',
			'user'       => 'network-login',
			'pass'       => $box->seal( 'network-pass' ),
			'from'       => 'network@example.com',
			'status_url' => 'http://relay.internal:8025',
		);
	}

	public function test_a_site_without_a_login_of_its_own_uses_the_networks_settings() {
		$box = $this->box();
		$s   = Gmail_Relay_Bridge_Settings::resolve( grb_constants( array() ), $this->network( $box ), $box, null );
		$this->assertSame( 'network-login', $s->get( 'user' ) );
		$this->assertSame( 'network-pass', $s->get( 'pass' ) );
		$this->assertSame( 'network@example.com', $s->get( 'from' ) );
		$this->assertSame( 'option', $s->source( 'user' ) );
		$this->assertSame( '', $s->site_login_ignored_by() );
		$this->assertTrue( $s->can_send() );
	}

	public function test_the_sites_own_login_wins_over_the_networks_and_the_rest_comes_from_the_network() {
		$box  = $this->box();
		$site = array( 'user' => 'shop', 'pass' => $box->seal( 'shop-pass' ), 'from' => 'shop@example.org' );
		$s    = Gmail_Relay_Bridge_Settings::resolve( grb_constants( array() ), $this->network( $box ), $box, $site );
		$this->assertSame( 'shop', $s->get( 'user' ) );
		$this->assertSame( 'shop-pass', $s->get( 'pass' ) );
		$this->assertSame( 'shop@example.org', $s->get( 'from' ) );
		foreach ( array( 'user', 'pass', 'from' ) as $field ) {
			$this->assertSame( 'site', $s->source( $field ), $field );
		}
		$this->assertSame( 'relay.internal', $s->get( 'host' ) );
		$this->assertSame( 2600, $s->get( 'port' ) );
		$this->assertSame( 'option', $s->source( 'host' ) );
		$this->assertSame( 'http://relay.internal:8025', $s->get( 'status_url' ) );
		$this->assertTrue( $s->can_send() );
	}

	public function test_a_site_login_without_a_from_uses_the_networks_from() {
		$box = $this->box();
		$s   = Gmail_Relay_Bridge_Settings::resolve( grb_constants( array() ), $this->network( $box ), $box, array( 'user' => 'blog', 'pass' => $box->seal( 'p' ), 'from' => '' ) );
		$this->assertSame( 'blog', $s->get( 'user' ) );
		$this->assertSame( 'network@example.com', $s->get( 'from' ) );
		$this->assertSame( 'option', $s->source( 'from' ) );
	}

	public function test_a_site_login_without_a_password_is_missing_one_and_never_gets_the_networks() {
		$box = $this->box();
		$s   = Gmail_Relay_Bridge_Settings::resolve( grb_constants( array() ), $this->network( $box ), $box, array( 'user' => 'blog', 'pass' => '' ) );
		$this->assertSame( 'blog', $s->get( 'user' ) );
		$this->assertSame( '', $s->get( 'pass' ) );
		$this->assertSame( array( 'pass' ), $s->missing() );
		$this->assertFalse( $s->can_send() );
	}

	/**
	 * @dataProvider login_constants
	 */
	public function test_a_login_constant_makes_every_sites_own_login_unused( $constants, $user, $pass, $name ) {
		$box  = $this->box();
		$site = array( 'user' => 'shop', 'pass' => $box->seal( 'shop-pass' ), 'from' => 'shop@example.org' );
		$s    = Gmail_Relay_Bridge_Settings::resolve( grb_constants( $constants ), $this->network( $box ), $box, $site );
		$this->assertSame( $user, $s->get( 'user' ) );
		$this->assertSame( $pass, $s->get( 'pass' ) );
		$this->assertSame( 'network@example.com', $s->get( 'from' ), 'the ignored login\'s From goes with it' );
		$this->assertSame( $name, $s->site_login_ignored_by() );
	}

	public function login_constants() {
		return array(
			'user'          => array( array( 'GMAIL_RELAY_USER' => 'everyone' ), 'everyone', 'network-pass', 'GMAIL_RELAY_USER' ),
			'pass'          => array( array( 'GMAIL_RELAY_PASS' => 'const-pass', 'GMAIL_RELAY_HOST' => '10.0.0.1', 'GMAIL_RELAY_PORT' => 25 ), 'network-login', 'const-pass', 'GMAIL_RELAY_PASS' ),
			'user and pass' => array( array( 'GMAIL_RELAY_USER' => 'everyone', 'GMAIL_RELAY_PASS' => 'const-pass', 'GMAIL_RELAY_HOST' => '10.0.0.1', 'GMAIL_RELAY_PORT' => 25 ), 'everyone', 'const-pass', 'GMAIL_RELAY_USER' ),
		);
	}

	public function test_constants_win_over_the_sites_login_and_the_network_field_by_field() {
		$box  = $this->box();
		$site = array( 'user' => 'shop', 'pass' => $box->seal( 'shop-pass' ), 'from' => 'shop@example.org' );
		$s    = Gmail_Relay_Bridge_Settings::resolve(
			grb_constants( array( 'GMAIL_RELAY_FROM' => 'fixed@example.com', 'GMAIL_RELAY_HOST' => '10.9.9.9', 'GMAIL_RELAY_SECURITY' => 'starttls' ) ),
			$this->network( $box ),
			$box,
			$site
		);
		$this->assertSame( 'fixed@example.com', $s->get( 'from' ) );
		$this->assertSame( 'constant', $s->source( 'from' ) );
		$this->assertSame( '10.9.9.9', $s->get( 'host' ) );
		$this->assertSame( 'starttls', $s->get( 'security' ) );
		$this->assertSame( 'shop', $s->get( 'user' ) );
		$this->assertSame( 'site', $s->source( 'pass' ) );
	}

	public function test_a_site_password_sealed_with_other_keys_is_an_error() {
		$site = array( 'user' => 'shop', 'pass' => ( new Gmail_Relay_Bridge_Secret_Box( 'other keys' ) )->seal( 'x' ) );
		$s    = Gmail_Relay_Bridge_Settings::resolve( grb_constants( array() ), array(), $this->box(), $site );
		$this->assertArrayHasKey( 'pass', $s->errors() );
		$this->assertSame( '', $s->get( 'pass' ) );
		$this->assertFalse( $s->can_send() );
	}

	public function test_a_site_entry_that_is_not_a_login_is_ignored() {
		$box = $this->box();
		foreach ( array( 'text', array( 'user' => array( 'x' ) ), array( 'user' => '  ' ), array() ) as $site ) {
			$s = Gmail_Relay_Bridge_Settings::resolve( grb_constants( array() ), $this->network( $box ), $box, $site );
			$this->assertSame( 'network-login', $s->get( 'user' ) );
			$this->assertSame( 'option', $s->source( 'user' ) );
		}
	}

	public function test_the_form_seals_site_passwords_keeps_them_when_empty_and_drops_emptied_and_deleted_sites() {
		$box   = $this->box();
		$first = Gmail_Relay_Bridge_Settings::sanitize_site_logins(
			array(
				'2' => array( 'user' => ' shop ', 'pass' => 'shop pass ', 'from' => 'shop@example.org' ),
				'3' => array( 'user' => 'blog', 'pass' => 'blog-pass', 'from' => '' ),
				'4' => array( 'user' => '', 'pass' => 'ignored', 'from' => '' ),
				'9' => array( 'user' => 'not-a-site', 'pass' => 'x' ),
			),
			array(),
			array( 1, 2, 3, 4 ),
			$box
		);
		$this->assertSame( array(), $first['errors'] );
		$this->assertSame( array( 2, 3 ), array_keys( $first['stored'] ) );
		$this->assertSame( 'shop', $first['stored'][2]['user'] );
		$this->assertSame( 'shop pass ', $box->open( $first['stored'][2]['pass'] ) );
		$this->assertStringNotContainsString( 'shop pass', $first['stored'][2]['pass'] );

		// Sanitised again (WordPress does for a new option): the sealed value is kept as it is.
		$again = Gmail_Relay_Bridge_Settings::sanitize_site_logins( $first['stored'], array(), array( 1, 2, 3, 4 ), $box );
		$this->assertSame( $first['stored'], $again['stored'] );

		$second = Gmail_Relay_Bridge_Settings::sanitize_site_logins(
			array(
				'2' => array( 'user' => 'shop', 'pass' => '', 'from' => 'not an address' ),
				'3' => array( 'user' => '', 'pass' => '' ),
			),
			$first['stored'],
			array( 1, 2 ), // Site 3 was deleted.
			$box
		);
		$this->assertSame( array( 2 ), array_keys( $second['stored'] ) );
		$this->assertSame( 'shop pass ', $box->open( $second['stored'][2]['pass'] ), 'an empty password field keeps the stored one' );
		$this->assertSame( 'shop@example.org', $second['stored'][2]['from'], 'an invalid From keeps the previous one' );
		$this->assertArrayHasKey( 'from', $second['errors'][2] );
	}

	public function test_the_form_clears_a_password_and_keeps_sites_it_did_not_list() {
		$box      = $this->box();
		$previous = array(
			2 => array( 'user' => 'shop', 'pass' => $box->seal( 'p2' ), 'from' => '' ),
			3 => array( 'user' => 'blog', 'pass' => $box->seal( 'p3' ), 'from' => '' ),
		);
		$saved    = Gmail_Relay_Bridge_Settings::sanitize_site_logins(
			array( '2' => array( 'user' => 'shop', 'pass' => '', 'clear_pass' => '1', 'from' => '' ) ),
			$previous,
			array( 1, 2, 3 ),
			$box
		);
		$this->assertSame( '', $saved['stored'][2]['pass'] );
		$this->assertSame( $previous[3], $saved['stored'][3] );

		$bad = Gmail_Relay_Bridge_Settings::sanitize_site_logins(
			array( '3' => array( 'user' => "bl\nog", 'pass' => "a\r\nb" ) ),
			$previous,
			array( 3 ),
			$box
		);
		$this->assertSame( $previous[3], $bad['stored'][3], 'a bad login or password keeps the working one' );
		$this->assertSame( array( 'user', 'pass' ), array_keys( $bad['errors'][3] ) );
	}
}
